//! Queries of the chunk table: written by the pipeline, read by search, citations and the document viewer.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use crate::ingest::entities::{chunk, document};

/// A chunk as the pipeline made it; its vectors carry the same id.
pub struct NewChunk {
    pub id: Uuid,
    pub ordinal: i32,
    pub text: String,
    pub page: Option<i32>,
    pub slide: Option<i32>,
    pub heading_path: String,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub token_count: i32,
}

pub async fn insert_chunks(
    db: &impl ConnectionTrait,
    doc: &document::Model,
    chunks: Vec<NewChunk>,
) -> Result<(), DbErr> {
    let rows = chunks.into_iter().map(|c| chunk::ActiveModel {
        id: Set(c.id),
        org_id: Set(doc.org_id),
        collection_id: Set(doc.collection_id),
        document_id: Set(doc.id),
        ordinal: Set(c.ordinal),
        text: Set(c.text),
        page: Set(c.page),
        slide: Set(c.slide),
        heading_path: Set(c.heading_path),
        start_ms: Set(c.start_ms),
        end_ms: Set(c.end_ms),
        token_count: Set(c.token_count),
    });
    chunk::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

pub async fn delete_chunks(db: &impl ConnectionTrait, document_id: Uuid) -> Result<(), DbErr> {
    chunk::Entity::delete_many().filter(chunk::Column::DocumentId.eq(document_id)).exec(db).await?;
    Ok(())
}

/// Chunks of `org_id` by id. The org filter again, so no bug in the vector layer can leak another org's text.
pub async fn chunks_by_id(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, chunk::Model>, DbErr> {
    let rows = chunk::Entity::find()
        .filter(chunk::Column::OrgId.eq(org_id))
        .filter(chunk::Column::Id.is_in(ids))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|c| (c.id, c)).collect())
}

/// The chunks within `radius` ordinals of each `(document, ordinal)`, by `(document, ordinal)`. One range per hit
/// (each an `idx_chunks_document` range scan): asking for every document at every ordinal instead read a cross
/// product that grew with the corpus (hundreds of rows, their text decoded, for a five-hit search).
pub async fn chunks_around(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    around: impl IntoIterator<Item = (Uuid, i32)>,
    radius: i32,
) -> Result<HashMap<(Uuid, i32), chunk::Model>, DbErr> {
    let ranges = around.into_iter().fold(Condition::any(), |any, (document_id, ordinal)| {
        any.add(
            Condition::all()
                .add(chunk::Column::DocumentId.eq(document_id))
                .add(chunk::Column::Ordinal.between(ordinal - radius, ordinal + radius)),
        )
    });
    if ranges.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = chunk::Entity::find().filter(chunk::Column::OrgId.eq(org_id)).filter(ranges).all(db).await?;
    Ok(rows.into_iter().map(|c| ((c.document_id, c.ordinal), c)).collect())
}

/// Where each chunk of a document sits, in order, without its text: enough to lay out the viewer's pages.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct ChunkPlace {
    pub id: Uuid,
    pub ordinal: i32,
    pub page: Option<i32>,
    pub slide: Option<i32>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

pub async fn chunk_places(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    document_id: Uuid,
) -> Result<Vec<ChunkPlace>, DbErr> {
    chunk::Entity::find()
        .select_only()
        .columns([
            chunk::Column::Id,
            chunk::Column::Ordinal,
            chunk::Column::Page,
            chunk::Column::Slide,
            chunk::Column::StartMs,
            chunk::Column::EndMs,
        ])
        .filter(chunk::Column::OrgId.eq(org_id))
        .filter(chunk::Column::DocumentId.eq(document_id))
        .order_by_asc(chunk::Column::Ordinal)
        .into_model::<ChunkPlace>()
        .all(db)
        .await
}

/// A document's chunks with ordinals in `from..=to`, in order.
pub async fn chunk_range(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    document_id: Uuid,
    from: i32,
    to: i32,
) -> Result<Vec<chunk::Model>, DbErr> {
    chunk::Entity::find()
        .filter(chunk::Column::OrgId.eq(org_id))
        .filter(chunk::Column::DocumentId.eq(document_id))
        .filter(chunk::Column::Ordinal.between(from, to))
        .order_by_asc(chunk::Column::Ordinal)
        .all(db)
        .await
}
