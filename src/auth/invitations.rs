//! Invitations: admins invite teachers and students, teachers invite students. The token is shown once to
//! the inviter (who sends the link), stored hashed, single use, and expires after 7 days.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::audit::{self, Entry, client_ip};
use super::entities::{invitation, user};
use super::error::AuthError;
use super::extract::{RequireRole, Staff};
use super::session::{issue_tokens, limit_ip, unique_as_email_taken};
use super::views::{TokenResponse, normalize_email, require_text};
use super::{Role, password, secrets};
use crate::app::AppState;

const VALID_DAYS: i64 = 7;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateInvitation {
    pub email: String,
    /// `teacher` or `student` (admins); `student` (teachers).
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationCreated {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    /// Shown once: send it to the invitee, who accepts at `POST /invitations/{token}/accept`.
    pub token: String,
    pub expires_at: chrono::DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptInvitation {
    pub name: String,
    pub password: String,
}

#[utoipa::path(post, path = "/api/v1/invitations", tag = "users", security(("bearer" = [])),
    request_body = CreateInvitation, extensions(("x-min-role" = json!("teacher"))),
    responses((status = 201, body = InvitationCreated), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: RequireRole<Staff>,
    body: web::Json<CreateInvitation>,
) -> Result<HttpResponse, AuthError> {
    let caller = caller.user;
    let allowed = match caller.role {
        Role::Admin => matches!(body.role, Role::Teacher | Role::Student),
        Role::Teacher => body.role == Role::Student,
        Role::Student => false,
    };
    if !allowed {
        return Err(AuthError::Forbidden(format!("a {} cannot invite a {}", caller.role.as_str(), body.role.as_str())));
    }
    let email = normalize_email(&body.email)?;
    if user::Entity::find().filter(user::Column::Email.eq(&email)).one(&state.db).await?.is_some() {
        return Err(AuthError::EmailTaken);
    }
    let token = secrets::generate("inv_");
    let now = Utc::now();
    let expires_at = now + chrono::Duration::days(VALID_DAYS);
    let row = invitation::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(caller.org_id),
        email: Set(email.clone()),
        role: Set(body.role.as_str().into()),
        token_hash: Set(secrets::digest(&token)),
        invited_by: Set(caller.user_id),
        expires_at: Set(expires_at),
        accepted_at: Set(None),
        created_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    audit::record(
        &state.db,
        Entry {
            org_id: Some(caller.org_id),
            actor_id: Some(caller.user_id),
            action: "invitation.created",
            target_type: Some("invitation"),
            target_id: Some(row.id.to_string()),
            ip: Some(client_ip(&req, state.settings.server.trust_proxy_headers)),
            details: serde_json::json!({ "email": email, "role": body.role }),
        },
    )
    .await;
    Ok(HttpResponse::Created().json(InvitationCreated { id: row.id, email, role: body.role, token, expires_at }))
}

/// Sets the invitee's name and password, creates their account in the inviting org, and signs them in.
#[utoipa::path(post, path = "/api/v1/invitations/{token}/accept", tag = "users",
    params(("token" = String, Path)), request_body = AcceptInvitation,
    responses((status = 201, body = TokenResponse), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn accept(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: web::Json<AcceptInvitation>,
) -> Result<HttpResponse, AuthError> {
    let ip = limit_ip(&state, &req).await?;
    let now = Utc::now();
    let invite = invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(secrets::digest(token.trim())))
        .one(&state.db)
        .await?
        .filter(|i| i.accepted_at.is_none() && i.expires_at > now)
        .ok_or(AuthError::InvalidInvitation)?;
    let body = body.into_inner();
    let name = require_text("name", &body.name, 200)?;
    password::check_policy(&body.password, &[&invite.email, &name]).map_err(AuthError::WeakPassword)?;
    let hash = password::hash(body.password).await?;
    let txn = state.db.begin().await?;
    // Single use even under a race: only one acceptance flips `accepted_at`.
    let claimed = invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedAt, sea_orm::sea_query::Expr::value(now))
        .filter(invitation::Column::Id.eq(invite.id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        return Err(AuthError::InvalidInvitation);
    }
    let account = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(invite.org_id),
        email: Set(invite.email.clone()),
        name: Set(name),
        password_hash: Set(hash),
        role: Set(invite.role.clone()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(Some(now)),
    }
    .insert(&txn)
    .await
    .map_err(unique_as_email_taken)?;
    txn.commit().await?;
    audit::record(
        &state.db,
        Entry {
            org_id: Some(invite.org_id),
            actor_id: Some(account.id),
            action: "invitation.accepted",
            target_type: Some("invitation"),
            target_id: Some(invite.id.to_string()),
            ip: Some(ip),
            ..Entry::default()
        },
    )
    .await;
    Ok(HttpResponse::Created().json(issue_tokens(&state, &account, None).await?))
}
