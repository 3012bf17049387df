//! sea-orm queries of the avatar tables, scoped by org.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::entities::{avatar, avatar_org};
use crate::pagination::{Page, PageQuery};

pub async fn avatar_in_org(db: &impl ConnectionTrait, org_id: Uuid, id: Uuid) -> Result<Option<avatar::Model>, DbErr> {
    avatar::Entity::find_by_id(id).filter(avatar::Column::OrgId.eq(org_id)).one(db).await
}

/// One page of the org's avatars, by name.
pub async fn avatars_page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    page: &PageQuery,
) -> Result<Page<avatar::Model>, DbErr> {
    let query = avatar::Entity::find()
        .filter(avatar::Column::OrgId.eq(org_id))
        .order_by_asc(avatar::Column::Name)
        .order_by_asc(avatar::Column::Id);
    Page::fetch(query, db, page, |row| row).await
}

pub async fn insert_avatar(db: &impl ConnectionTrait, row: avatar::Model) -> Result<(), DbErr> {
    avatar::ActiveModel::from(row).insert(db).await?;
    Ok(())
}

pub async fn set_mapping(db: &impl ConnectionTrait, id: Uuid, mapping: serde_json::Value) -> Result<(), DbErr> {
    avatar::ActiveModel {
        id: sea_orm::Unchanged(id),
        mapping: Set(mapping),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

pub async fn delete_avatar(db: &impl ConnectionTrait, org_id: Uuid, id: Uuid) -> Result<(), DbErr> {
    avatar::Entity::delete_many()
        .filter(avatar::Column::Id.eq(id))
        .filter(avatar::Column::OrgId.eq(org_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks the org as offered the sample avatar; false when it already was (by this or a concurrent request).
pub async fn claim_sample_offer(db: &impl ConnectionTrait, org_id: Uuid) -> Result<bool, DbErr> {
    let row = avatar_org::ActiveModel { org_id: Set(org_id), sample_offered_at: Set(Utc::now()) };
    let inserted = avatar_org::Entity::insert(row)
        .on_conflict(OnConflict::column(avatar_org::Column::OrgId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

pub async fn sample_offered(db: &impl ConnectionTrait, org_id: Uuid) -> Result<bool, DbErr> {
    Ok(avatar_org::Entity::find_by_id(org_id).one(db).await?.is_some())
}
