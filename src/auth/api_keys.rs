//! Per-org API keys for SDKs and server-to-server calls: created by admins, shown once, stored hashed,
//! scoped `read` or `write`, revocable.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::audit::{self, Entry, client_ip};
use super::entities::api_key;
use super::error::AuthError;
use super::extract::{Admin, Credential, RequireRole};
use super::secrets;
use super::views::require_text;
use crate::app::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// GET requests only.
    Read,
    /// Reads and writes, with the `teacher` role: content, never people, keys or billing.
    Write,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateApiKey {
    pub name: String,
    pub scope: Scope,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    pub scope: String,
    /// The first characters of the key, to recognise it in a list.
    pub prefix: String,
    pub created_at: chrono::DateTime<Utc>,
    pub last_used_at: Option<chrono::DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// Shown once. Send as `Authorization: Bearer <key>`.
    pub secret: String,
}

impl From<api_key::Model> for ApiKeyView {
    fn from(k: api_key::Model) -> Self {
        Self {
            id: k.id,
            name: k.name,
            scope: k.scope,
            prefix: k.prefix,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
        }
    }
}

/// Records use at most once a minute per key: a busy integration should not turn every read into a write.
pub(super) async fn touch(db: &DatabaseConnection, key: &api_key::Model) {
    let now = Utc::now();
    if key.last_used_at.is_some_and(|t| now - t < chrono::Duration::seconds(60)) {
        return;
    }
    let mut active: api_key::ActiveModel = key.clone().into();
    active.last_used_at = Set(Some(now));
    if let Err(err) = active.update(db).await {
        tracing::warn!(error = ?err, "could not record API key use");
    }
}

fn require_session(credential: Credential) -> Result<(), AuthError> {
    match credential {
        Credential::Session { .. } => Ok(()),
        Credential::ApiKey { .. } => Err(AuthError::Forbidden("API keys cannot manage API keys".into())),
    }
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "users", security(("bearer" = [])),
    request_body = CreateApiKey, extensions(("x-min-role" = json!("admin"))),
    responses((status = 201, body = ApiKeyCreated), (status = 403, body = crate::error::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: RequireRole<Admin>,
    body: web::Json<CreateApiKey>,
) -> Result<HttpResponse, AuthError> {
    let caller = caller.user;
    require_session(caller.credential)?;
    let name = require_text("name", &body.name, 200)?;
    let secret = secrets::generate(secrets::API_KEY_PREFIX);
    let scope = match body.scope {
        Scope::Read => "read",
        Scope::Write => "write",
    };
    let row = api_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(caller.org_id),
        name: Set(name),
        prefix: Set(secret.chars().take(12).collect()),
        key_hash: Set(secrets::digest(&secret)),
        scope: Set(scope.into()),
        created_by: Set(caller.user_id),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&state.db)
    .await?;
    audit::record(
        &state.db,
        Entry {
            org_id: Some(caller.org_id),
            actor_id: Some(caller.user_id),
            action: "api_key.created",
            target_type: Some("api_key"),
            target_id: Some(row.id.to_string()),
            ip: Some(client_ip(&req, state.settings.server.trust_proxy_headers)),
            details: serde_json::json!({ "scope": scope }),
        },
    )
    .await;
    Ok(HttpResponse::Created().json(ApiKeyCreated { key: row.into(), secret }))
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "users", security(("bearer" = [])),
    extensions(("x-min-role" = json!("admin"))),
    responses((status = 200, body = Vec<ApiKeyView>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(state: web::Data<AppState>, caller: RequireRole<Admin>) -> Result<HttpResponse, AuthError> {
    let keys = api_key::Entity::find()
        .filter(api_key::Column::OrgId.eq(caller.user.org_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .order_by_desc(api_key::Column::CreatedAt)
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(keys.into_iter().map(ApiKeyView::from).collect::<Vec<_>>()))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("admin"))),
    responses((status = 204, description = "revoked"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: RequireRole<Admin>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AuthError> {
    let caller = caller.user;
    require_session(caller.credential)?;
    let revoked = api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(api_key::Column::Id.eq(*id))
        .filter(api_key::Column::OrgId.eq(caller.org_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(&state.db)
        .await?
        .rows_affected;
    if revoked == 0 {
        return Err(AuthError::NotFound("API key"));
    }
    audit::record(
        &state.db,
        Entry {
            org_id: Some(caller.org_id),
            actor_id: Some(caller.user_id),
            action: "api_key.revoked",
            target_type: Some("api_key"),
            target_id: Some(id.to_string()),
            ip: Some(client_ip(&req, state.settings.server.trust_proxy_headers)),
            ..Entry::default()
        },
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
