//! What other domains (the chat layer next) and this one's routes may call: personas read and written with their
//! collection lists, always scoped by org.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use uuid::Uuid;

use super::TeachingMode;
use super::entities::{persona, persona_collection};
use super::error::PersonaError;
use super::views::Fields;
use crate::app::AppState;
use crate::pagination::PageQuery;

/// A persona as the rest of the app sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Persona {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub description: String,
    pub tone: String,
    pub instructions: String,
    pub teaching_mode: TeachingMode,
    pub greeting: String,
    /// In the teacher's order. A deleted collection drops out of every list by itself (a cascading key).
    pub collection_ids: Vec<Uuid>,
    /// Not checked against any table yet: the avatar issue adds avatars, and then validates this id against the
    /// org's avatars (and lets a deleted avatar clear it).
    pub avatar_id: Option<Uuid>,
    /// `None`: the configured default model.
    pub model: Option<String>,
    pub temperature: f64,
    pub max_tokens: u32,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn assemble(row: persona::Model, collection_ids: Vec<Uuid>) -> Result<Persona, PersonaError> {
    let teaching_mode = TeachingMode::parse(&row.teaching_mode)
        .with_context(|| format!("persona {} has an unknown teaching mode {:?}", row.id, row.teaching_mode))?;
    Ok(Persona {
        id: row.id,
        org_id: row.org_id,
        name: row.name,
        description: row.description,
        tone: row.tone,
        instructions: row.instructions,
        teaching_mode,
        greeting: row.greeting,
        collection_ids,
        avatar_id: row.avatar_id,
        model: row.model,
        temperature: row.temperature,
        max_tokens: u32::try_from(row.max_tokens).unwrap_or(1),
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A persona of `org_id`. Another org's id is simply not found.
pub async fn find(state: &AppState, org_id: Uuid, id: Uuid) -> Result<Persona, PersonaError> {
    let row = find_row(state, org_id, id).await?;
    let mut links = collection_ids(&state.db, &[row.id]).await?;
    assemble(row, links.remove(&id).unwrap_or_default())
}

async fn find_row(state: &AppState, org_id: Uuid, id: Uuid) -> Result<persona::Model, PersonaError> {
    persona::Entity::find_by_id(id)
        .filter(persona::Column::OrgId.eq(org_id))
        .one(&state.db)
        .await?
        .ok_or(PersonaError::NotFound)
}

/// The collection ids of each persona, in position order.
async fn collection_ids(
    db: &impl ConnectionTrait,
    personas: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Uuid>>, PersonaError> {
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
pub async fn list(state: &AppState, org_id: Uuid, page: &PageQuery) -> Result<(Vec<Persona>, u64), PersonaError> {
    let paginator = persona::Entity::find()
        .filter(persona::Column::OrgId.eq(org_id))
        .order_by_asc(persona::Column::Name)
        .order_by_asc(persona::Column::Id)
        .paginate(&state.db, page.per_page());
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page.index()).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut links = collection_ids(&state.db, &ids).await?;
    let personas = rows
        .into_iter()
        .map(|row| {
            let collections = links.remove(&row.id).unwrap_or_default();
            assemble(row, collections)
        })
        .collect::<Result<_, _>>()?;
    Ok((personas, total))
}

/// Collections must be the caller's org's: asked of the knowledge domain, never read from its tables.
async fn check_collections(state: &AppState, org_id: Uuid, ids: &[Uuid]) -> Result<(), PersonaError> {
    let missing = crate::ingest::service::missing_collections(state, org_id, ids).await?;
    if missing.is_empty() { Ok(()) } else { Err(PersonaError::UnknownCollections(missing)) }
}

pub async fn create(state: &AppState, org_id: Uuid, created_by: Uuid, fields: Fields) -> Result<Persona, PersonaError> {
    check_collections(state, org_id, &fields.collection_ids).await?;
    let now = Utc::now();
    let id = Uuid::now_v7();
    let txn = state.db.begin().await?;
    persona::ActiveModel {
        id: Set(id),
        org_id: Set(org_id),
        created_by: Set(created_by),
        created_at: Set(now),
        ..write(&fields, now)
    }
    .insert(&txn)
    .await?;
    link(&txn, org_id, id, &fields.collection_ids).await?;
    txn.commit().await?;
    find(state, org_id, id).await
}

/// Replaces every editable field of `current` with `fields`.
pub async fn update(state: &AppState, current: &Persona, fields: Fields) -> Result<Persona, PersonaError> {
    check_collections(state, current.org_id, &fields.collection_ids).await?;
    let txn = state.db.begin().await?;
    persona::ActiveModel { id: sea_orm::Unchanged(current.id), ..write(&fields, Utc::now()) }.update(&txn).await?;
    if fields.collection_ids != current.collection_ids {
        persona_collection::Entity::delete_many()
            .filter(persona_collection::Column::PersonaId.eq(current.id))
            .exec(&txn)
            .await?;
        link(&txn, current.org_id, current.id, &fields.collection_ids).await?;
    }
    txn.commit().await?;
    find(state, current.org_id, current.id).await
}

/// Deletes the persona and its collection links (they cascade). Returns the deleted persona's name.
pub async fn delete(state: &AppState, org_id: Uuid, id: Uuid) -> Result<String, PersonaError> {
    let row = find_row(state, org_id, id).await?;
    persona::Entity::delete_many()
        .filter(persona::Column::Id.eq(row.id))
        .filter(persona::Column::OrgId.eq(org_id))
        .exec(&state.db)
        .await?;
    Ok(row.name)
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

async fn link(db: &impl ConnectionTrait, org_id: Uuid, persona_id: Uuid, ids: &[Uuid]) -> Result<(), PersonaError> {
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
