//! Documents: upload (streamed, size-limited, sniffed), status, list, delete, reprocess.

use std::path::{Path, PathBuf};

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use futures_util::TryStreamExt;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;
use uuid::Uuid;

use super::entities::document;
use super::error::IngestError;
use super::events::{self, DocumentEvent};
use super::{extract, pipeline, service};
use crate::app::AppState;
use crate::auth::{AuthUser, RequireRole, Staff};
use crate::pagination::{Page, PageQuery};
use crate::platform::jobs::NewJob;

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub id: Uuid,
    pub collection_id: Uuid,
    pub name: String,
    /// What the bytes are (`pdf`, `docx`, ...), once sniffed.
    pub kind: Option<String>,
    pub size_bytes: i64,
    /// `queued` → `processing` → `ready` | `failed`.
    pub status: String,
    /// While processing: `reading`, `extracting`, `transcribing` (audio, video), `chunking`, `indexing`.
    pub stage: Option<String>,
    /// 0 to 100.
    pub progress: i16,
    pub chunk_count: i32,
    /// Stable, when `failed`: e.g. `encrypted_pdf`, `zip_bomb`, `not_text`, `transcription_unavailable`,
    /// `no_audio_track`, `transcription_failed`.
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

impl From<document::Model> for DocumentView {
    fn from(d: document::Model) -> Self {
        Self {
            id: d.id,
            collection_id: d.collection_id,
            name: d.name,
            kind: d.kind,
            size_bytes: d.size_bytes,
            status: d.status,
            stage: d.stage,
            progress: d.progress,
            chunk_count: d.chunk_count,
            error_code: d.error_code,
            error: d.error_message,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// Deletes the temp file however the upload ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

struct Saved {
    file: TempFile,
    name: String,
    content_type: Option<String>,
    size: u64,
    sha256: String,
}

/// Client file names are labels only: keep them printable and short, never a path.
fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(250).collect();
    if cleaned.trim().is_empty() { "upload".into() } else { cleaned.trim().to_owned() }
}

async fn save_field(field: actix_multipart::Field, dir: &Path, limit: u64) -> Result<Saved, IngestError> {
    let name =
        field.content_disposition().and_then(|cd| cd.get_filename().map(clean_name)).unwrap_or_else(|| "upload".into());
    let content_type = field.content_type().map(ToString::to_string);
    tokio::fs::create_dir_all(dir).await.map_err(anyhow::Error::from)?;
    let temp = TempFile(dir.join(format!("upload-{}", Uuid::new_v4().simple())));
    let mut out = tokio::fs::File::create(&temp.0).await.map_err(anyhow::Error::from)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut field = field;
    while let Some(bytes) =
        field.try_next().await.map_err(|e| IngestError::Invalid(format!("the upload broke off: {e}")))?
    {
        size += bytes.len() as u64;
        if size > limit {
            return Err(IngestError::TooLarge(limit));
        }
        hasher.update(&bytes);
        out.write_all(&bytes).await.map_err(anyhow::Error::from)?;
    }
    out.flush().await.map_err(anyhow::Error::from)?;
    let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Saved { file: temp, name, content_type, size, sha256 })
}

/// Refuses only what is certainly not a supported kind; anything that might be (an empty file, text that
/// may be junk) is accepted, and the ingest job fails it with a precise code.
async fn refuse_unsupported(path: &Path, name: &str) -> Result<(), IngestError> {
    let path = path.to_path_buf();
    let name = name.to_owned();
    let verdict = tokio::task::spawn_blocking(move || -> std::io::Result<Result<(), String>> {
        use std::io::Read;
        // The head is enough to refuse an image or an executable; telling DOCX from PPTX (or from any other
        // zip) needs the whole file, which is the job's to read.
        let mut head = Vec::with_capacity(64 * 1024);
        std::fs::File::open(&path)?.take(64 * 1024).read_to_end(&mut head)?;
        if head.starts_with(b"PK\x03\x04") {
            return Ok(Ok(()));
        }
        Ok(match extract::sniff(&head, Some(&name)) {
            Err(err) if err.code() == "unsupported_type" => Err(err.message()),
            _ => Ok(()),
        })
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(anyhow::Error::from)?;
    verdict.map_err(IngestError::Unsupported)
}

/// Uploads a file (multipart field `file`). Answers at once; processing continues in the background.
#[utoipa::path(post, path = "/api/v1/collections/{id}/documents", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("teacher"))),
    request_body(content_type = "multipart/form-data", description = "field `file`: PDF, DOCX, PPTX, TXT, \
        Markdown, HTML, SRT/VTT, audio or video"),
    responses((status = 202, body = DocumentView), (status = 413, body = crate::error::ErrorBody),
        (status = 415, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn upload(
    state: web::Data<AppState>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
    mut multipart: Multipart,
) -> Result<HttpResponse, IngestError> {
    let caller = caller.user;
    let collection = service::find_collection(&state, caller.org_id, *id).await?;
    let limit = state.settings.ingest.max_upload_bytes;
    let tmp = state.settings.server.data_dir.join("tmp");
    let mut saved = None;
    while let Some(field) =
        multipart.try_next().await.map_err(|e| IngestError::Invalid(format!("malformed multipart body: {e}")))?
    {
        if saved.is_none() && field.name() == Some("file") {
            saved = Some(save_field(field, &tmp, limit).await?);
        }
    }
    let saved = saved.ok_or_else(|| IngestError::Invalid("the multipart field `file` is missing".into()))?;
    refuse_unsupported(&saved.file.0, &saved.name).await?;

    let doc_id = Uuid::now_v7();
    let blob_key = format!("org/{}/documents/{doc_id}", caller.org_id);
    state.storage.put_file(&blob_key, &saved.file.0).await?;
    let now = Utc::now();
    let row = document::ActiveModel {
        id: Set(doc_id),
        org_id: Set(caller.org_id),
        collection_id: Set(collection.id),
        name: Set(saved.name.clone()),
        kind: Set(None),
        client_content_type: Set(saved.content_type.clone()),
        size_bytes: Set(i64::try_from(saved.size).unwrap_or(i64::MAX)),
        sha256: Set(saved.sha256.clone()),
        blob_key: Set(blob_key),
        status: Set("queued".into()),
        stage: Set(None),
        progress: Set(0),
        error_code: Set(None),
        error_message: Set(None),
        chunk_count: Set(0),
        uploaded_by: Set(caller.user_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    enqueue(&state, &row).await?;
    Ok(HttpResponse::Accepted().json(DocumentView::from(row)))
}

async fn enqueue(state: &AppState, doc: &document::Model) -> Result<(), IngestError> {
    let payload = serde_json::to_value(pipeline::Payload { document_id: doc.id, org_id: doc.org_id })
        .map_err(anyhow::Error::from)?;
    state
        .jobs
        .enqueue(NewJob {
            kind: pipeline::KIND.into(),
            payload,
            org_id: Some(doc.org_id),
            dedupe_key: Some(format!("ingest:{}", doc.id)),
        })
        .await?;
    events::publish(state, DocumentEvent::from(doc)).await;
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/collections/{id}/documents", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path), PageQuery), extensions(("x-min-role" = json!("student"))),
    responses((status = 200, body = Page<DocumentView>), (status = 404, body = crate::error::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, IngestError> {
    let collection = service::find_collection(&state, caller.org_id, *id).await?;
    let paginator = document::Entity::find()
        .filter(document::Column::OrgId.eq(caller.org_id))
        .filter(document::Column::CollectionId.eq(collection.id))
        .order_by_desc(document::Column::CreatedAt)
        .paginate(&state.db, page.per_page());
    let total = paginator.num_items().await?;
    let items: Vec<DocumentView> =
        paginator.fetch_page(page.index()).await?.into_iter().map(DocumentView::from).collect();
    Ok(HttpResponse::Ok().json(Page { items, page: page.page(), per_page: page.per_page(), total }))
}

#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("student"))),
    responses((status = 200, body = DocumentView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, IngestError> {
    Ok(HttpResponse::Ok().json(DocumentView::from(service::find_document(&state, caller.org_id, *id).await?)))
}

/// Deletes the document, its chunks, its vectors and its file.
#[utoipa::path(delete, path = "/api/v1/documents/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 204, description = "deleted"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, IngestError> {
    let doc = service::find_document(&state, caller.user.org_id, *id).await?;
    service::delete_document(&state, doc).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Runs the pipeline again (after a failure, or once a transcription provider is configured).
#[utoipa::path(post, path = "/api/v1/documents/{id}/reprocess", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 202, body = DocumentView), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
pub async fn reprocess(
    state: web::Data<AppState>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, IngestError> {
    let doc = service::find_document(&state, caller.user.org_id, *id).await?;
    if matches!(doc.status.as_str(), "queued" | "processing") {
        return Err(IngestError::Conflict("the document is already being processed".into()));
    }
    let mut queued: document::ActiveModel = doc.into();
    queued.status = Set("queued".into());
    queued.stage = Set(None);
    queued.progress = Set(0);
    queued.error_code = Set(None);
    queued.error_message = Set(None);
    queued.updated_at = Set(Utc::now());
    let row = queued.update(&state.db).await?;
    enqueue(&state, &row).await?;
    Ok(HttpResponse::Accepted().json(DocumentView::from(row)))
}
