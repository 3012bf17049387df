//! The audit log: who did what, when and from where; read newest first.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use std::collections::HashMap;

use crate::auth::entities::{audit, user};
use crate::auth::views::{AuditEntry, AuditFilter};
use crate::pagination::{Page, PageQuery};

#[derive(Debug)]
pub struct NewAuditRow {
    pub org_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: &'static str,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

pub async fn insert_audit(db: &impl ConnectionTrait, row: NewAuditRow) -> Result<(), DbErr> {
    audit::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(row.org_id),
        actor_id: Set(row.actor_id),
        action: Set(row.action.to_owned()),
        target_type: Set(row.target_type.map(str::to_owned)),
        target_id: Set(row.target_id),
        ip: Set(row.ip),
        details: Set(if serde_json::Value::is_null(&row.details) { serde_json::json!({}) } else { row.details }),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The org's audit log, newest first.
pub async fn audit_page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    filter: &AuditFilter,
    page: &PageQuery,
) -> Result<Page<AuditEntry>, DbErr> {
    let mut query = audit::Entity::find().filter(audit::Column::OrgId.eq(org_id));
    if let Some(action) = &filter.action {
        query = query.filter(audit::Column::Action.eq(action.as_str()));
    }
    if let Some(actor) = filter.actor_id {
        query = query.filter(audit::Column::ActorId.eq(actor));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit::Column::CreatedAt.lt(to));
    }
    let mut entries = Page::fetch(query.order_by_desc(audit::Column::Id), db, page, AuditEntry::from).await?;
    // Names in one query for the page (an entry outlives its actor's account, so a name may be missing).
    let actors: Vec<Uuid> = entries.items.iter().filter_map(|e| e.actor_id).collect();
    let names: HashMap<Uuid, String> = user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Id.is_in(actors))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    for entry in &mut entries.items {
        entry.actor_name = entry.actor_id.and_then(|id| names.get(&id).cloned());
    }
    Ok(entries)
}
