//! sea-orm queries of the knowledge tables (collections, documents, chunks), scoped by org wherever a caller's
//! request leads to them.

mod chunks;

pub use chunks::*;

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ModelTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::entities::{collection, document};
use super::views::DELETING;
use super::views::DocumentView;
use crate::pagination::{Page, PageQuery};

pub async fn collection_in_org(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<collection::Model>, DbErr> {
    collection::Entity::find_by_id(id).filter(collection::Column::OrgId.eq(org_id)).one(db).await
}

/// Which of `ids` are collections of `org_id`.
pub async fn owned_collections(db: &impl ConnectionTrait, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Uuid>, DbErr> {
    collection::Entity::find()
        .select_only()
        .column(collection::Column::Id)
        .filter(collection::Column::OrgId.eq(org_id))
        .filter(collection::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await
}

pub async fn insert_collection(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    created_by: Uuid,
    name: String,
    description: String,
) -> Result<collection::Model, DbErr> {
    let now = Utc::now();
    collection::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org_id),
        name: Set(name),
        description: Set(description),
        created_by: Set(created_by),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

pub async fn update_collection(
    db: &impl ConnectionTrait,
    row: collection::Model,
    name: Option<String>,
    description: Option<String>,
) -> Result<collection::Model, DbErr> {
    let mut changes: collection::ActiveModel = row.into();
    if let Some(name) = name {
        changes.name = Set(name);
    }
    if let Some(description) = description {
        changes.description = Set(description);
    }
    changes.updated_at = Set(Utc::now());
    changes.update(db).await
}

pub async fn collections_page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    page: &PageQuery,
) -> Result<Page<collection::Model>, DbErr> {
    let query =
        collection::Entity::find().filter(collection::Column::OrgId.eq(org_id)).order_by_asc(collection::Column::Name);
    Page::fetch(query, db, page, |row| row).await
}

pub async fn document_count(db: &impl ConnectionTrait, collection_id: Uuid) -> Result<u64, DbErr> {
    document::Entity::find().filter(document::Column::CollectionId.eq(collection_id)).count(db).await
}

pub async fn documents_of_collection(
    db: &impl ConnectionTrait,
    collection_id: Uuid,
) -> Result<Vec<document::Model>, DbErr> {
    document::Entity::find().filter(document::Column::CollectionId.eq(collection_id)).all(db).await
}

/// The row and, by cascade, its documents' rows and chunks.
pub async fn delete_collection(db: &impl ConnectionTrait, row: collection::Model) -> Result<(), DbErr> {
    row.delete(db).await?;
    Ok(())
}

pub async fn document_in_org(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<document::Model>, DbErr> {
    document::Entity::find_by_id(id).filter(document::Column::OrgId.eq(org_id)).one(db).await
}

pub struct NewDocument {
    pub id: Uuid,
    pub org_id: Uuid,
    pub collection_id: Uuid,
    pub name: String,
    pub client_content_type: Option<String>,
    pub size_bytes: i64,
    pub sha256: String,
    pub blob_key: String,
    pub uploaded_by: Uuid,
}

/// A document `queued` for the pipeline.
pub async fn insert_document(db: &impl ConnectionTrait, new: NewDocument) -> Result<document::Model, DbErr> {
    let now = Utc::now();
    document::ActiveModel {
        id: Set(new.id),
        org_id: Set(new.org_id),
        collection_id: Set(new.collection_id),
        name: Set(new.name),
        kind: Set(None),
        client_content_type: Set(new.client_content_type),
        size_bytes: Set(new.size_bytes),
        sha256: Set(new.sha256),
        blob_key: Set(new.blob_key),
        status: Set("queued".into()),
        stage: Set(None),
        progress: Set(0),
        error_code: Set(None),
        error_message: Set(None),
        chunk_count: Set(0),
        uploaded_by: Set(new.uploaded_by),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

pub async fn documents_page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    collection_id: Uuid,
    page: &PageQuery,
) -> Result<Page<DocumentView>, DbErr> {
    let query = document::Entity::find()
        .filter(document::Column::OrgId.eq(org_id))
        .filter(document::Column::CollectionId.eq(collection_id))
        .order_by_desc(document::Column::CreatedAt);
    Page::fetch(query, db, page, DocumentView::from).await
}

/// The row; its chunks cascade.
pub async fn delete_document(db: &impl ConnectionTrait, doc: document::Model) -> Result<(), DbErr> {
    doc.delete(db).await?;
    Ok(())
}

/// `processing` at `stage` and `pct`; `false` when the row is gone or being deleted (the job must stop).
pub async fn set_progress(db: &impl ConnectionTrait, id: Uuid, stage: &str, pct: i16) -> Result<bool, DbErr> {
    let updated = document::Entity::update_many()
        .col_expr(document::Column::Status, Expr::value("processing"))
        .col_expr(document::Column::Stage, Expr::value(stage))
        .col_expr(document::Column::Progress, Expr::value(pct))
        .col_expr(document::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(document::Column::Id.eq(id))
        .filter(document::Column::Status.ne(DELETING))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// The status of a document that is still there (`None`: deleted).
pub async fn document_status(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<String>, DbErr> {
    document::Entity::find_by_id(id).select_only().column(document::Column::Status).into_tuple::<String>().one(db).await
}

/// `ready` with its kind and chunk count, unless it is being deleted (then `None`).
pub async fn mark_ready(
    db: &impl ConnectionTrait,
    doc: &document::Model,
    kind: &str,
    chunk_count: i32,
) -> Result<Option<document::Model>, DbErr> {
    let updated = document::Entity::update_many()
        .col_expr(document::Column::Status, Expr::value("ready"))
        .col_expr(document::Column::Stage, Expr::value(Option::<String>::None))
        .col_expr(document::Column::Progress, Expr::value(100i16))
        .col_expr(document::Column::Kind, Expr::value(kind))
        .col_expr(document::Column::ChunkCount, Expr::value(chunk_count))
        .col_expr(document::Column::ErrorCode, Expr::value(Option::<String>::None))
        .col_expr(document::Column::ErrorMessage, Expr::value(Option::<String>::None))
        .col_expr(document::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(document::Column::Id.eq(doc.id))
        .filter(document::Column::Status.ne(DELETING))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    document_by_id(db, doc.id).await
}

/// `failed` with a stable code and a message for the uploader, unless it is being deleted (then `None`).
pub async fn mark_failed(
    db: &impl ConnectionTrait,
    doc: &document::Model,
    code: &str,
    message: &str,
) -> Result<Option<document::Model>, DbErr> {
    let updated = document::Entity::update_many()
        .col_expr(document::Column::Status, Expr::value("failed"))
        .col_expr(document::Column::Stage, Expr::value(Option::<String>::None))
        .col_expr(document::Column::ErrorCode, Expr::value(code))
        .col_expr(document::Column::ErrorMessage, Expr::value(message))
        .col_expr(document::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(document::Column::Id.eq(doc.id))
        .filter(document::Column::Status.ne(DELETING))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    document_by_id(db, doc.id).await
}

/// Marks a document as being deleted: its job stops at its next step, and writes nothing more.
pub async fn mark_deleting(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    document::Entity::update_many()
        .col_expr(document::Column::Status, Expr::value(DELETING))
        .col_expr(document::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(document::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks every document of a collection as being deleted.
pub async fn mark_collection_deleting(db: &impl ConnectionTrait, collection_id: Uuid) -> Result<(), DbErr> {
    document::Entity::update_many()
        .col_expr(document::Column::Status, Expr::value(DELETING))
        .col_expr(document::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(document::Column::CollectionId.eq(collection_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Back to `queued` from `ready` or `failed`; `None` when it is queued, processing or being deleted.
pub async fn claim_for_reprocess(
    db: &impl ConnectionTrait,
    doc: &document::Model,
) -> Result<Option<document::Model>, DbErr> {
    let updated = document::Entity::update_many()
        .col_expr(document::Column::Status, Expr::value("queued"))
        .col_expr(document::Column::Stage, Expr::value(Option::<String>::None))
        .col_expr(document::Column::Progress, Expr::value(0i16))
        .col_expr(document::Column::ErrorCode, Expr::value(Option::<String>::None))
        .col_expr(document::Column::ErrorMessage, Expr::value(Option::<String>::None))
        .col_expr(document::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(document::Column::Id.eq(doc.id))
        .filter(document::Column::Status.is_in(["ready", "failed"]))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    document_by_id(db, doc.id).await
}

pub async fn document_names(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    ids: &HashSet<Uuid>,
) -> Result<HashMap<Uuid, String>, DbErr> {
    let rows = document::Entity::find()
        .filter(document::Column::OrgId.eq(org_id))
        .filter(document::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|d| (d.id, d.name)).collect())
}

/// A document by id alone: for a job that outlived its own payload's checks (marking it failed when it dies).
pub async fn document_by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<document::Model>, DbErr> {
    document::Entity::find_by_id(id).one(db).await
}

/// Which of `ids` are documents that exist (any org: for the orphan sweep).
pub async fn existing_documents(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<HashSet<Uuid>, DbErr> {
    let mut found = HashSet::new();
    // Bounded IN lists: SQLite allows about 32k bound values per statement.
    for batch in ids.chunks(1000) {
        let rows: Vec<Uuid> = document::Entity::find()
            .select_only()
            .column(document::Column::Id)
            .filter(document::Column::Id.is_in(batch.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}
