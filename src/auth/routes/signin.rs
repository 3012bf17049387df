//! Sign-up, sign-in, refresh, sign-out and `me`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::cookie;
use crate::auth::error::AuthError;
use crate::auth::extractors::{AuthUser, ClientIp};
use crate::auth::service::AuthService;
use crate::auth::views::{
    LoginRequest, LogoutRequest, Me, RefreshRequest, RegisterRequest, ServerStatus, TokenResponse,
};
use crate::error::ErrorBody;
use crate::http::Json;

/// Register an organisation
///
/// Creates an organisation and its first admin, and signs the admin in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", operation_id = "register",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "the organisation exists and its admin is signed in", body = TokenResponse),
        (status = 403, description = "`registration_closed`: `auth.registration` does not allow it", body = ErrorBody),
        (status = 409, description = "`email_taken`: an account with this email already exists", body = ErrorBody),
        (status = 422, description = "`invalid_request` (a field is empty, too long or not an email), \
            `weak_password`, or `invalid_body`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many sign-ups from this address", body = ErrorBody)))]
pub async fn register(
    req: HttpRequest,
    auth: web::Data<AuthService>,
    ip: ClientIp,
    body: Json<RegisterRequest>,
) -> Result<HttpResponse, AuthError> {
    let in_cookie = body.refresh_in_cookie;
    let tokens = auth.register(body.into_inner(), &ip).await?;
    Ok(cookie::respond(&req, HttpResponse::Created(), tokens, in_cookie, auth.refresh_ttl_days()))
}

/// Sign in
///
/// Trades an email and password for an access token and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", operation_id = "login", request_body = LoginRequest,
    responses(
        (status = 200, description = "signed in", body = TokenResponse),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 403, description = "`account_disabled`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many attempts from this address, or too many failed \
            attempts on this account", body = ErrorBody)))]
pub async fn login(
    req: HttpRequest,
    auth: web::Data<AuthService>,
    ip: ClientIp,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, AuthError> {
    let in_cookie = body.refresh_in_cookie;
    let tokens = auth.login(body.into_inner(), &ip).await?;
    Ok(cookie::respond(&req, HttpResponse::Ok(), tokens, in_cookie, auth.refresh_ttl_days()))
}

/// Refresh the tokens
///
/// Trades a refresh token (single use) for a new access token and the next refresh token of its family. The
/// token comes in the body, or from the refresh cookie (`bwenge_refresh`, set by signing in with
/// `refresh_in_cookie`), and its successor goes back the same way unless `refresh_in_cookie` says otherwise.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", operation_id = "refresh_tokens",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "a new pair", body = TokenResponse),
        (status = 401, description = "`invalid_refresh_token`, `refresh_token_expired`, or `refresh_token_reused` \
            (the whole family is revoked)", body = ErrorBody),
        (status = 403, description = "`account_disabled`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody)))]
pub async fn refresh(
    req: HttpRequest,
    auth: web::Data<AuthService>,
    ip: ClientIp,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, AuthError> {
    let body = body.into_inner();
    let from_cookie = body.refresh_token.is_none();
    let token = body.refresh_token.or_else(|| cookie::presented(&req)).ok_or(AuthError::InvalidRefreshToken)?;
    let in_cookie = body.refresh_in_cookie.unwrap_or(from_cookie);
    match auth.refresh(&token, &ip).await {
        Ok(tokens) => Ok(cookie::respond(&req, HttpResponse::Ok(), tokens, in_cookie, auth.refresh_ttl_days())),
        // A cookie that no longer works is forgotten, so the browser stops sending it.
        Err(
            err @ (AuthError::InvalidRefreshToken
            | AuthError::RefreshTokenExpired
            | AuthError::RefreshTokenReused
            | AuthError::AccountDisabled),
        ) if from_cookie => {
            let mut response = actix_web::ResponseError::error_response(&err);
            let _ = response.add_cookie(&cookie::cleared(&req));
            Ok(response)
        }
        Err(err) => Err(err),
    }
}

/// Sign out
///
/// Ends the given refresh token's family (one device: the body's token, else the refresh cookie's), or with
/// neither every session of the caller. The refresh cookie is cleared.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", operation_id = "logout",
    security(("bearer" = [])), extensions(("x-min-role" = json!("student"))),
    request_body(content = LogoutRequest, description = "optional"),
    responses((status = 204, description = "signed out")))]
pub async fn logout(
    req: HttpRequest,
    auth: web::Data<AuthService>,
    caller: AuthUser,
    body: Option<Json<LogoutRequest>>,
) -> Result<HttpResponse, AuthError> {
    let token = body.and_then(|b| b.into_inner().refresh_token).or_else(|| cookie::presented(&req));
    auth.logout(&caller, token.as_deref()).await?;
    Ok(HttpResponse::NoContent().cookie(cookie::cleared(&req)).finish())
}

/// Server status for the sign-in page
///
/// Whether organisations may be created here, and whether this is a fresh server with none yet (whose first
/// visitor is offered to create one). Needs no credentials.
#[utoipa::path(get, path = "/api/v1/auth/status", tag = "auth", operation_id = "get_auth_status",
    responses((status = 200, description = "how people join this server", body = ServerStatus)))]
pub async fn status(auth: web::Data<AuthService>) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Ok().json(auth.status().await?))
}

/// Who am I
///
/// The caller (absent for an API key), their organisation and role.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", operation_id = "get_me",
    security(("bearer" = []), ("api_key" = [])), extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "the caller", body = Me)))]
pub async fn me(auth: web::Data<AuthService>, caller: AuthUser) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Ok().json(auth.me(&caller).await?))
}
