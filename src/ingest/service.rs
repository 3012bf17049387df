//! What other domains (and this one's routes) may call: lookups scoped by org, and deletions that take a
//! document's chunks, vectors and file with it.

use sea_orm::{ColumnTrait, EntityTrait, ModelTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::entities::{collection, document};
use super::error::IngestError;
use crate::app::AppState;
use crate::platform::vectors::VectorFilter;

/// A collection of `org_id`. Another org's id is simply not found.
pub async fn find_collection(state: &AppState, org_id: Uuid, id: Uuid) -> Result<collection::Model, IngestError> {
    collection::Entity::find_by_id(id)
        .filter(collection::Column::OrgId.eq(org_id))
        .one(&state.db)
        .await?
        .ok_or(IngestError::NotFound("collection"))
}

/// Which of `ids` are not collections of `org_id` (another org's id is as missing as a made-up one), in the
/// order given. One query, for callers that reference collections, such as personas.
pub async fn missing_collections(state: &AppState, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Uuid>, IngestError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<Uuid> = collection::Entity::find()
        .select_only()
        .column(collection::Column::Id)
        .filter(collection::Column::OrgId.eq(org_id))
        .filter(collection::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(&state.db)
        .await?;
    Ok(ids.iter().filter(|id| !found.contains(id)).copied().collect())
}

pub async fn find_document(state: &AppState, org_id: Uuid, id: Uuid) -> Result<document::Model, IngestError> {
    document::Entity::find_by_id(id)
        .filter(document::Column::OrgId.eq(org_id))
        .one(&state.db)
        .await?
        .ok_or(IngestError::NotFound("document"))
}

/// Vectors first, then the file, then the row (its chunks cascade): if a step fails the row is still there,
/// and deleting again finishes the job instead of leaving unreachable vectors behind.
pub async fn delete_document(state: &AppState, doc: document::Model) -> Result<(), IngestError> {
    let filter = VectorFilter::org(doc.org_id).with_documents([doc.id]);
    state.vectors.delete(&filter).await.map_err(|e| anyhow::Error::new(e).context("deleting document vectors"))?;
    state.storage.delete(&doc.blob_key).await?;
    doc.delete(&state.db).await?;
    Ok(())
}

/// Personas that name the collection lose it from their lists: their link rows cascade with the collection's row
/// (the personas migration's foreign key), so no persona keeps an id that resolves to nothing, and this domain
/// needs no knowledge of personas.
pub async fn delete_collection(state: &AppState, row: collection::Model) -> Result<(), IngestError> {
    let filter = VectorFilter::org(row.org_id).with_collections([row.id]);
    state.vectors.delete(&filter).await.map_err(|e| anyhow::Error::new(e).context("deleting collection vectors"))?;
    let docs = document::Entity::find().filter(document::Column::CollectionId.eq(row.id)).all(&state.db).await?;
    for doc in docs {
        state.storage.delete(&doc.blob_key).await?;
    }
    row.delete(&state.db).await?;
    Ok(())
}

/// Every document's progress events from now on, each with its uploader (`uploaded_by`): the chat WebSocket
/// forwards them to the uploader's connections.
pub use super::events::uploads as document_events;
