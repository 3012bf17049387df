//! API keys: created and revoked by admins signed in as people (never by another key).

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::auth::error::AuthError;
use crate::auth::extractors::{Admin, ClientIp, RequireRole};
use crate::auth::service::AuthService;
use crate::auth::views::{ApiKeyCreated, ApiKeyView, CreateApiKey};
use crate::error::ErrorBody;
use crate::http::Json;

/// Create an API key
///
/// The secret is in this answer only; store it now.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "users", operation_id = "create_api_key",
    security(("bearer" = [])), request_body = CreateApiKey, extensions(("x-min-role" = json!("admin"))),
    responses((status = 201, description = "the key, with its secret", body = ApiKeyCreated),
        (status = 422, description = "`invalid_request` (an empty or too long name) or `invalid_body`",
            body = ErrorBody)))]
pub async fn create(
    auth: web::Data<AuthService>,
    ip: ClientIp,
    caller: RequireRole<Admin>,
    body: Json<CreateApiKey>,
) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Created().json(auth.create_api_key(&caller.user, &ip, body.into_inner()).await?))
}

/// List API keys
///
/// The organisation's keys that are not revoked, newest first (never their secrets).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "users", operation_id = "list_api_keys",
    security(("bearer" = [])), extensions(("x-min-role" = json!("admin"))),
    responses((status = 200, description = "the live keys", body = Vec<ApiKeyView>)))]
pub async fn list(auth: web::Data<AuthService>, caller: RequireRole<Admin>) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Ok().json(auth.list_api_keys(&caller.user).await?))
}

/// Revoke an API key
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "users", operation_id = "revoke_api_key",
    security(("bearer" = [])), params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("admin"))),
    responses((status = 204, description = "revoked"),
        (status = 404, description = "`not_found`: no live key with this id", body = ErrorBody)))]
pub async fn revoke(
    auth: web::Data<AuthService>,
    ip: ClientIp,
    caller: RequireRole<Admin>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AuthError> {
    auth.revoke_api_key(&caller.user, &ip, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
