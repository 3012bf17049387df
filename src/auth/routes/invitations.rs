//! Invitations: create one (staff), accept one (the invitee, by its secret token).

use actix_web::{HttpResponse, web};

use crate::auth::error::AuthError;
use crate::auth::extractors::{ClientIp, RequireRole, Staff};
use crate::auth::service::AuthService;
use crate::auth::views::{AcceptInvitation, CreateInvitation, InvitationCreated, TokenResponse};
use crate::error::ErrorBody;
use crate::http::Json;

/// Invite someone
///
/// Admins invite teachers and students, teachers invite students. The token in the answer is shown once.
#[utoipa::path(post, path = "/api/v1/invitations", tag = "users", operation_id = "create_invitation",
    security(("bearer" = [])), request_body = CreateInvitation,
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 201, description = "the invitation, with its token", body = InvitationCreated),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 422, description = "`invalid_request` (not an email) or `invalid_body`", body = ErrorBody)))]
pub async fn create(
    auth: web::Data<AuthService>,
    ip: ClientIp,
    caller: RequireRole<Staff>,
    body: Json<CreateInvitation>,
) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Created().json(auth.invite(&caller.user, &ip, body.into_inner()).await?))
}

/// Accept an invitation
///
/// Sets the invitee's name and password, creates their account in the inviting organisation, and signs them in.
#[utoipa::path(post, path = "/api/v1/invitations/{token}/accept", tag = "users", operation_id = "accept_invitation",
    params(("token" = String, Path, description = "the invitation's secret token")), request_body = AcceptInvitation,
    responses((status = 201, description = "the account exists and is signed in", body = TokenResponse),
        (status = 404, description = "`invalid_invitation`: unknown, used or expired", body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 422, description = "`invalid_request`, `weak_password` or `invalid_body`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody)))]
pub async fn accept(
    auth: web::Data<AuthService>,
    ip: ClientIp,
    token: web::Path<String>,
    body: Json<AcceptInvitation>,
) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Created().json(auth.accept_invitation(&token, &ip, body.into_inner()).await?))
}
