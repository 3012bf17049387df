//! Sign-up, sign-in, token refresh with rotation and reuse detection, sign-out, and `me`.
//!
//! Refresh tokens form families: each use marks the presented token used and hands out its successor. A
//! used token coming back means it was copied (RFC 9700 §4.14): the whole family is revoked, so both the
//! thief and the victim must sign in again, and the event goes in the audit log.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set, TransactionTrait};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::audit::{self, Entry, client_ip};
use super::entities::{org, refresh_token, user};
use super::error::AuthError;
use super::extract::{AuthUser, Credential};
use super::views::{Me, OrgView, TokenResponse, UserView, normalize_email, require_text};
use super::{Role, password, secrets};
use crate::app::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    pub org_name: String,
    pub email: String,
    pub password: String,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// Ends this token's family (one device). Without it, every session of the caller ends.
    pub refresh_token: Option<String>,
}

/// Per-IP limit shared by every unauthenticated auth route.
pub(super) async fn limit_ip(state: &AppState, req: &HttpRequest) -> Result<String, AuthError> {
    let ip = client_ip(req, state.settings.server.trust_proxy_headers);
    let limit = state.settings.ratelimit.auth_per_ip_per_minute;
    let decision = state.rate_limiter.hit(&format!("auth:ip:{ip}"), limit, Duration::from_secs(60)).await?;
    if !decision.allowed {
        return Err(AuthError::RateLimited(decision.reset_after.as_secs().max(1)));
    }
    Ok(ip)
}

/// Creates an organisation and its first admin, and signs the admin in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = TokenResponse), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, AuthError> {
    let ip = limit_ip(&state, &req).await?;
    let body = body.into_inner();
    let org_name = require_text("org_name", &body.org_name, 200)?;
    let name = require_text("name", &body.name, 200)?;
    let email = normalize_email(&body.email)?;
    password::check_policy(&body.password, &[&email, &name, &org_name]).map_err(AuthError::WeakPassword)?;
    if user::Entity::find().filter(user::Column::Email.eq(&email)).one(&state.db).await?.is_some() {
        return Err(AuthError::EmailTaken);
    }
    let hash = password::hash(body.password).await?;
    let now = Utc::now();
    let (org_id, user_id) = (Uuid::now_v7(), Uuid::now_v7());
    let txn = state.db.begin().await?;
    org::ActiveModel { id: Set(org_id), name: Set(org_name), plan: Set("free".into()), created_at: Set(now) }
        .insert(&txn)
        .await?;
    let admin = user::ActiveModel {
        id: Set(user_id),
        org_id: Set(org_id),
        email: Set(email),
        name: Set(name),
        password_hash: Set(hash),
        role: Set(Role::Admin.as_str().into()),
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
            org_id: Some(org_id),
            actor_id: Some(user_id),
            action: "org.registered",
            target_type: Some("org"),
            target_id: Some(org_id.to_string()),
            ip: Some(ip),
            ..Entry::default()
        },
    )
    .await;
    let tokens = issue_tokens(&state, &admin, None).await?;
    Ok(HttpResponse::Created().json(tokens))
}

/// Two sign-ups racing for one email: the loser's insert hits the unique index.
pub(super) fn unique_as_email_taken(err: sea_orm::DbErr) -> AuthError {
    match err.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => AuthError::EmailTaken,
        _ => err.into(),
    }
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, AuthError> {
    let ip = limit_ip(&state, &req).await?;
    let email = body.email.trim().to_lowercase();
    // Failed attempts are counted per account, so guessing from many IPs hits this wall too; once it is
    // reached even the right password waits out the window.
    let failures_key = format!("auth:login-failures:{email}");
    let per_account = state.settings.ratelimit.login_per_account_per_15min;
    let locked = state.rate_limiter.peek(&failures_key, per_account).await?;
    if !locked.allowed {
        return Err(AuthError::RateLimited(locked.reset_after.as_secs().max(1)));
    }
    let found = user::Entity::find().filter(user::Column::Email.eq(&email)).one(&state.db).await?;
    let stored = found.as_ref().map_or_else(|| password::decoy_hash().to_owned(), |u| u.password_hash.clone());
    let matches = password::verify(body.password.clone(), stored).await?;
    if !matches {
        state.rate_limiter.hit(&failures_key, per_account, Duration::from_secs(15 * 60)).await?;
        // A known account's org sees the attempt in its log; an unknown email is logged with no org.
        audit::record(
            &state.db,
            Entry {
                org_id: found.as_ref().map(|u| u.org_id),
                target_type: found.as_ref().map(|_| "user"),
                target_id: found.as_ref().map(|u| u.id.to_string()),
                action: "login.failed",
                ip: Some(ip),
                details: serde_json::json!({ "email": email }),
                ..Entry::default()
            },
        )
        .await;
        return Err(AuthError::InvalidCredentials);
    }
    let Some(account) = found else { return Err(AuthError::InvalidCredentials) };
    if !account.active {
        return Err(AuthError::AccountDisabled);
    }
    let mut touched: user::ActiveModel = account.clone().into();
    touched.last_login_at = Set(Some(Utc::now()));
    touched.update(&state.db).await?;
    audit::record(
        &state.db,
        Entry {
            org_id: Some(account.org_id),
            actor_id: Some(account.id),
            action: "login.succeeded",
            ip: Some(ip),
            ..Entry::default()
        },
    )
    .await;
    Ok(HttpResponse::Ok().json(issue_tokens(&state, &account, None).await?))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::error::ErrorBody)))]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, AuthError> {
    let ip = limit_ip(&state, &req).await?;
    let presented = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(secrets::digest(body.refresh_token.trim())))
        .one(&state.db)
        .await?
        .ok_or(AuthError::InvalidRefreshToken)?;
    if presented.revoked_at.is_some() {
        return Err(AuthError::InvalidRefreshToken);
    }
    let now = Utc::now();
    // Marking it used is the claim: of two concurrent uses, exactly one updates the row.
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, sea_orm::sea_query::Expr::value(now))
        .filter(refresh_token::Column::Id.eq(presented.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(&state.db)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        revoke_tokens(&state, Condition::all().add(refresh_token::Column::FamilyId.eq(presented.family_id))).await?;
        audit::record(
            &state.db,
            Entry {
                org_id: Some(presented.org_id),
                actor_id: Some(presented.user_id),
                action: "token.reuse_detected",
                target_type: Some("refresh_token_family"),
                target_id: Some(presented.family_id.to_string()),
                ip: Some(ip),
                ..Entry::default()
            },
        )
        .await;
        return Err(AuthError::RefreshTokenReused);
    }
    if presented.expires_at < now {
        return Err(AuthError::RefreshTokenExpired);
    }
    let account = user::Entity::find_by_id(presented.user_id).one(&state.db).await?;
    let Some(account) = account.filter(|u| u.active) else {
        revoke_tokens(&state, Condition::all().add(refresh_token::Column::FamilyId.eq(presented.family_id))).await?;
        return Err(AuthError::AccountDisabled);
    };
    Ok(HttpResponse::Ok().json(issue_tokens(&state, &account, Some(presented.family_id)).await?))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    extensions(("x-min-role" = json!("student"))),
    request_body(content = LogoutRequest, description = "optional"),
    responses((status = 204, description = "signed out"), (status = 401, body = crate::error::ErrorBody)))]
pub async fn logout(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: Option<web::Json<LogoutRequest>>,
) -> Result<HttpResponse, AuthError> {
    let mut which = Condition::all().add(refresh_token::Column::UserId.eq(caller.user_id));
    if let Some(token) = body.and_then(|b| b.into_inner().refresh_token) {
        let found = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(secrets::digest(token.trim())))
            .filter(refresh_token::Column::UserId.eq(caller.user_id))
            .one(&state.db)
            .await?;
        let Some(found) = found else { return Ok(HttpResponse::NoContent().finish()) };
        which = which.add(refresh_token::Column::FamilyId.eq(found.family_id));
    }
    revoke_tokens(&state, which).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller and their organisation.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, body = Me), (status = 401, body = crate::error::ErrorBody)))]
pub async fn me(state: web::Data<AppState>, caller: AuthUser) -> Result<HttpResponse, AuthError> {
    let org = org::Entity::find_by_id(caller.org_id).one(&state.db).await?.ok_or(AuthError::InvalidToken)?;
    let user = match caller.credential {
        Credential::Session { .. } => Some(
            user::Entity::find_by_id(caller.user_id)
                .filter(user::Column::OrgId.eq(caller.org_id))
                .one(&state.db)
                .await?
                .map(UserView::from)
                .ok_or(AuthError::InvalidToken)?,
        ),
        Credential::ApiKey { .. } => None,
    };
    Ok(HttpResponse::Ok().json(Me { user, org: OrgView::from(org), role: caller.role }))
}

/// Revokes every live refresh token matching `which` (a family, a user, a user's family).
pub(super) async fn revoke_tokens(state: &AppState, which: Condition) -> Result<(), AuthError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(which)
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&state.db)
        .await?;
    Ok(())
}

/// A new access token and the next refresh token of `family` (a new family for a fresh sign-in).
pub(super) async fn issue_tokens(
    state: &AppState,
    account: &user::Model,
    family: Option<Uuid>,
) -> Result<TokenResponse, AuthError> {
    let role = Role::parse(&account.role).ok_or_else(|| anyhow::anyhow!("user has unknown role {}", account.role))?;
    let access_token = state.jwt.issue(account.id, account.org_id, role)?;
    let refresh = secrets::generate("");
    let now = Utc::now();
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        family_id: Set(family.unwrap_or_else(Uuid::now_v7)),
        user_id: Set(account.id),
        org_id: Set(account.org_id),
        token_hash: Set(secrets::digest(&refresh)),
        expires_at: Set(now + chrono::Duration::days(state.settings.auth.refresh_token_ttl_days)),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    Ok(TokenResponse { access_token, refresh_token: refresh, token_type: "Bearer", expires_in: state.jwt.ttl_secs() })
}
