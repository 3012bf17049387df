//! Invitations: create, list and revoke them (staff), accept one (the invitee, by its secret token).

use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::cookie;
use crate::auth::error::AuthError;
use crate::auth::extractors::{ClientIp, RequireRole, Staff};
use crate::auth::service::AuthService;
use crate::auth::views::{AcceptInvitation, CreateInvitation, InvitationCreated, InvitationView, TokenResponse};
use crate::error::ErrorBody;
use crate::http::Json;
use crate::pagination::{Page, PageQuery};

/// Invite someone
///
/// Admins invite teachers and students, teachers invite students. The token in the answer is shown once.
#[utoipa::path(post, path = "/api/v1/invitations", tag = "users", operation_id = "create_invitation",
    security(("bearer" = [])), request_body = CreateInvitation,
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 201, description = "the invitation, with its token", body = InvitationCreated),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 422, description = "`invalid_request` (not an email), `unknown_class` (`class_id` is not a class \
            the inviter teaches) or `invalid_body`", body = ErrorBody)))]
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
    req: HttpRequest,
    auth: web::Data<AuthService>,
    ip: ClientIp,
    token: web::Path<String>,
    body: Json<AcceptInvitation>,
) -> Result<HttpResponse, AuthError> {
    let in_cookie = body.refresh_in_cookie;
    let tokens = auth.accept_invitation(&token, &ip, body.into_inner()).await?;
    Ok(cookie::respond(&req, HttpResponse::Created(), tokens, in_cookie, auth.refresh_ttl_days()))
}

/// List pending invitations
///
/// Invitations not yet accepted, newest first, expired ones included (they can only be revoked). Admins see all;
/// teachers see the student invitations.
#[utoipa::path(get, path = "/api/v1/invitations", tag = "users", operation_id = "list_invitations",
    security(("bearer" = [])), params(PageQuery), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "one page of pending invitations", body = Page<InvitationView>)))]
pub async fn list(
    auth: web::Data<AuthService>,
    caller: RequireRole<Staff>,
    page: PageQuery,
) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Ok().json(auth.list_invitations(&caller.user, &page).await?))
}

/// Revoke an invitation
///
/// Its link stops working at once. Teachers revoke student invitations only.
#[utoipa::path(delete, path = "/api/v1/invitations/{id}", tag = "users", operation_id = "revoke_invitation",
    security(("bearer" = [])), params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 204, description = "revoked"),
        (status = 404, description = "`not_found`: no pending invitation with this id that the caller may revoke",
            body = ErrorBody)))]
pub async fn revoke(
    auth: web::Data<AuthService>,
    caller: RequireRole<Staff>,
    ip: ClientIp,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AuthError> {
    auth.revoke_invitation(&caller.user, &ip, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
