//! sea-orm queries of the persona tables, scoped by org.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::entities::{persona, persona_collection};
use super::service::Fields;
use crate::pagination::{Page, PageQuery};

pub async fn persona_in_org(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<persona::Model>, DbErr> {
    persona::Entity::find_by_id(id).filter(persona::Column::OrgId.eq(org_id)).one(db).await
}

/// The collection ids of each persona, in position order.
pub async fn collection_ids(db: &impl ConnectionTrait, personas: &[Uuid]) -> Result<HashMap<Uuid, Vec<Uuid>>, DbErr> {
    let rows = persona_collection::Entity::find()
        .filter(persona_collection::Column::PersonaId.is_in(personas.iter().copied()))
        .order_by_asc(persona_collection::Column::PersonaId)
        .order_by_asc(persona_collection::Column::Position)
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for row in rows {
        out.entry(row.persona_id).or_default().push(row.collection_id);
    }
    Ok(out)
}

/// One page of the org's personas, by name.
pub async fn personas_page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    page: &PageQuery,
) -> Result<Page<persona::Model>, DbErr> {
    let query = persona::Entity::find()
        .filter(persona::Column::OrgId.eq(org_id))
        .order_by_asc(persona::Column::Name)
        .order_by_asc(persona::Column::Id);
    Page::fetch(query, db, page, |row| row).await
}

pub async fn insert_persona(
    db: &impl ConnectionTrait,
    id: Uuid,
    org_id: Uuid,
    created_by: Uuid,
    fields: &Fields,
) -> Result<(), DbErr> {
    let now = Utc::now();
    persona::ActiveModel {
        id: Set(id),
        org_id: Set(org_id),
        created_by: Set(created_by),
        created_at: Set(now),
        ..write(fields, now)
    }
    .insert(db)
    .await?;
    link(db, org_id, id, &fields.collection_ids).await
}

/// Replaces every editable column of persona `id`, and its collection links when they changed.
pub async fn update_persona(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    id: Uuid,
    fields: &Fields,
    collections_changed: bool,
) -> Result<(), DbErr> {
    persona::ActiveModel { id: sea_orm::Unchanged(id), ..write(fields, Utc::now()) }.update(db).await?;
    if collections_changed {
        persona_collection::Entity::delete_many().filter(persona_collection::Column::PersonaId.eq(id)).exec(db).await?;
        link(db, org_id, id, &fields.collection_ids).await?;
    }
    Ok(())
}

/// The persona and its collection links (they cascade).
pub async fn delete_persona(db: &impl ConnectionTrait, org_id: Uuid, id: Uuid) -> Result<(), DbErr> {
    persona::Entity::delete_many()
        .filter(persona::Column::Id.eq(id))
        .filter(persona::Column::OrgId.eq(org_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The columns an edit writes.
fn write(fields: &Fields, now: DateTime<Utc>) -> persona::ActiveModel {
    persona::ActiveModel {
        name: Set(fields.name.clone()),
        description: Set(fields.description.clone()),
        tone: Set(fields.tone.clone()),
        instructions: Set(fields.instructions.clone()),
        teaching_mode: Set(fields.teaching_mode.as_str().to_owned()),
        greeting: Set(fields.greeting.clone()),
        avatar_id: Set(fields.avatar_id),
        model: Set(fields.model.clone()),
        temperature: Set(fields.temperature),
        max_tokens: Set(i32::try_from(fields.max_tokens).unwrap_or(i32::MAX)),
        updated_at: Set(now),
        ..Default::default()
    }
}

async fn link(db: &impl ConnectionTrait, org_id: Uuid, persona_id: Uuid, ids: &[Uuid]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let rows = ids.iter().zip(0..).map(|(collection_id, position)| persona_collection::ActiveModel {
        persona_id: Set(persona_id),
        collection_id: Set(*collection_id),
        org_id: Set(org_id),
        position: Set(position),
    });
    persona_collection::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

/// The names of those of `ids` that are personas of `org_id`.
pub async fn names(db: &impl ConnectionTrait, org_id: Uuid, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, DbErr> {
    let rows = persona::Entity::find()
        .filter(persona::Column::OrgId.eq(org_id))
        .filter(persona::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|p| (p.id, p.name)).collect())
}

/// The names of the org's personas that show `avatar_id`.
pub async fn names_using_avatar(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    avatar_id: Uuid,
) -> Result<Vec<String>, DbErr> {
    let rows = persona::Entity::find()
        .filter(persona::Column::OrgId.eq(org_id))
        .filter(persona::Column::AvatarId.eq(avatar_id))
        .order_by_asc(persona::Column::Name)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|p| p.name).collect())
}

/// The org's personas that show `avatar_id` show none.
pub async fn unlink_avatar(db: &impl ConnectionTrait, org_id: Uuid, avatar_id: Uuid) -> Result<(), DbErr> {
    persona::Entity::update_many()
        .col_expr(persona::Column::AvatarId, sea_orm::sea_query::Expr::value(Option::<Uuid>::None))
        .col_expr(persona::Column::UpdatedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(persona::Column::OrgId.eq(org_id))
        .filter(persona::Column::AvatarId.eq(avatar_id))
        .exec(db)
        .await?;
    Ok(())
}
