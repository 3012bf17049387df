//! API keys: stored by the hash of their secret, revoked rather than deleted.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::auth::entities::api_key;
use crate::auth::views::ApiKeyView;

pub struct NewApiKey {
    pub org_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub scope: &'static str,
    pub created_by: Uuid,
}

pub async fn insert_api_key(db: &impl ConnectionTrait, new: NewApiKey) -> Result<api_key::Model, DbErr> {
    api_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(new.org_id),
        name: Set(new.name),
        prefix: Set(new.prefix),
        key_hash: Set(new.key_hash),
        scope: Set(new.scope.into()),
        created_by: Set(new.created_by),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
}

pub async fn live_api_key_by_hash(db: &impl ConnectionTrait, key_hash: &str) -> Result<Option<api_key::Model>, DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(key_hash))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(db)
        .await
}

/// Whether key `id` of `org_id` exists and is not revoked.
pub async fn api_key_is_live(db: &impl ConnectionTrait, org_id: Uuid, id: Uuid) -> Result<bool, DbErr> {
    let key = api_key::Entity::find_by_id(id)
        .filter(api_key::Column::OrgId.eq(org_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(db)
        .await?;
    Ok(key.is_some())
}

pub async fn live_api_keys(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Vec<ApiKeyView>, DbErr> {
    let keys = api_key::Entity::find()
        .filter(api_key::Column::OrgId.eq(org_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .order_by_desc(api_key::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(keys.into_iter().map(ApiKeyView::from).collect())
}

/// Revokes a live key of `org_id`; `false` when there is none with that id.
pub async fn revoke_api_key(db: &impl ConnectionTrait, org_id: Uuid, id: Uuid) -> Result<bool, DbErr> {
    let revoked = api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::OrgId.eq(org_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(revoked.rows_affected == 1)
}

pub async fn touch_api_key(db: &impl ConnectionTrait, key: &api_key::Model, now: DateTime<Utc>) -> Result<(), DbErr> {
    let mut row: api_key::ActiveModel = key.clone().into();
    row.last_used_at = Set(Some(now));
    row.update(db).await?;
    Ok(())
}
