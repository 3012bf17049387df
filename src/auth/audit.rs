//! The append-only audit log: security-relevant actions, who did them, from where. The database refuses
//! updates and deletes of these rows (see the accounts migration).

use actix_web::{HttpRequest, HttpResponse, web};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::entities::audit;
use super::error::AuthError;
use super::extract::{Admin, RequireRole};
use crate::app::AppState;
use crate::pagination::{Page, PageQuery};

/// One audit entry to write. `org_id` is `None` only for events with no known org (a login with an unknown email).
#[derive(Debug, Default)]
pub struct Entry<'a> {
    pub org_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

/// Writes an entry. A failure is logged, never raised: the action it records has already happened.
pub async fn record(db: &DatabaseConnection, entry: Entry<'_>) {
    let row = audit::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(entry.org_id),
        actor_id: Set(entry.actor_id),
        action: Set(entry.action.to_owned()),
        target_type: Set(entry.target_type.map(str::to_owned)),
        target_id: Set(entry.target_id),
        ip: Set(entry.ip),
        details: Set(if entry.details.is_null() { serde_json::json!({}) } else { entry.details }),
        created_at: Set(chrono::Utc::now()),
    };
    if let Err(err) = row.insert(db).await {
        tracing::error!(error = ?err, action = entry.action, "could not write an audit entry");
    }
}

/// The client address for rate limits and the audit log: the peer, or the proxy's forwarded value when the
/// deployment says a trusted proxy sets it.
pub fn client_ip(req: &HttpRequest, trust_proxy: bool) -> String {
    let info = req.connection_info();
    let ip = if trust_proxy { info.realip_remote_addr() } else { info.peer_addr() };
    ip.unwrap_or("unknown").to_owned()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    pub actor_id: Option<Uuid>,
    /// e.g. `login.succeeded`, `login.failed`, `token.reuse_detected`, `user.role_changed`, `api_key.created`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only entries with this action.
    pub action: Option<String>,
}

/// The org's audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "auth", security(("bearer" = [])),
    params(PageQuery, AuditFilter),
    extensions(("x-min-role" = json!("admin"))),
    responses((status = 200, body = Page<AuditEntry>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: RequireRole<Admin>,
    page: web::Query<PageQuery>,
    filter: web::Query<AuditFilter>,
) -> Result<HttpResponse, AuthError> {
    let mut query = audit::Entity::find().filter(audit::Column::OrgId.eq(caller.user.org_id));
    if let Some(action) = &filter.action {
        query = query.filter(audit::Column::Action.eq(action.as_str()));
    }
    let paginator = query.order_by_desc(audit::Column::Id).paginate(&state.db, page.per_page());
    let total = paginator.num_items().await?;
    let items = paginator
        .fetch_page(page.index())
        .await?
        .into_iter()
        .map(|row| AuditEntry {
            id: row.id,
            actor_id: row.actor_id,
            action: row.action,
            target_type: row.target_type,
            target_id: row.target_id,
            ip: row.ip,
            details: row.details,
            created_at: row.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page { items, page: page.page(), per_page: page.per_page(), total }))
}
