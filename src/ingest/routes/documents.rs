//! Documents: upload (streamed to disk, size-limited), status, list, delete, reprocess, and progress as SSE.

use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use futures_util::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::auth::{AuthUser, RequireRole, Staff};
use crate::error::ErrorBody;
use crate::http::file_label;
use crate::ingest::error::IngestError;
use crate::ingest::service::{IngestService, TempFile, Upload};
use crate::ingest::views::{ContentQuery, DocumentContent, DocumentEvent, DocumentSse, DocumentView, UploadForm};
use crate::pagination::{Page, PageQuery};

/// Upload a document
///
/// Multipart field `file`. Answers at once with the queued document; processing continues in the background
/// (watch `GET /documents/{id}`, its `/events`, or the chat WebSocket's `document.progress`).
#[utoipa::path(post, path = "/api/v1/collections/{id}/documents", tag = "knowledge", operation_id = "upload_document",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path, description = "the collection")),
    extensions(("x-min-role" = json!("teacher"))),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 202, description = "stored and queued", body = DocumentView),
        (status = 404, description = "`not_found`: no such collection", body = ErrorBody),
        (status = 402, description = "`quota_exceeded`: the plan's storage would be passed (`details` says by how \
            much)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over `ingest.max_upload_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_type`: the bytes are not a supported kind (an image, an \
            executable, binary data named as text)", body = ErrorBody),
        (status = 422, description = "`empty_file`: the file has no bytes; `invalid_request`: no `file` field, or a \
            broken multipart body", body = ErrorBody)))]
pub async fn upload(
    ingest: web::Data<IngestService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
    req: actix_web::HttpRequest,
    multipart: Multipart,
) -> Result<HttpResponse, IngestError> {
    // The request's length bounds the file's: the plan's storage is checked against it before a byte is read.
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let document = ingest.upload(&caller.user, *id, declared, |dir, limit| receive(multipart, dir, limit)).await?;
    Ok(HttpResponse::Accepted().json(document))
}

/// The first `file` field, streamed to a temp file in `dir` and hashed on the way.
async fn receive(mut multipart: Multipart, dir: PathBuf, limit: u64) -> Result<Upload, IngestError> {
    let mut saved = None;
    while let Some(field) =
        multipart.try_next().await.map_err(|e| IngestError::Invalid(format!("malformed multipart body: {e}")))?
    {
        if saved.is_none() && field.name() == Some("file") {
            saved = Some(save_field(field, &dir, limit).await?);
        }
    }
    saved.ok_or_else(|| IngestError::Invalid("the multipart field `file` is missing".into()))
}

async fn save_field(field: actix_multipart::Field, dir: &Path, limit: u64) -> Result<Upload, IngestError> {
    let name = field
        .content_disposition()
        .and_then(|cd| cd.get_filename().map(|n| file_label(n, "upload")))
        .unwrap_or_else(|| "upload".into());
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
    Ok(Upload { file: temp, name, content_type, size, sha256 })
}

/// List a collection's documents
///
/// Newest first, with their processing status.
#[utoipa::path(get, path = "/api/v1/collections/{id}/documents", tag = "knowledge", operation_id = "list_documents",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path, description = "the collection"), PageQuery),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "one page of documents", body = Page<DocumentView>),
        (status = 404, description = "`not_found`: no such collection", body = ErrorBody)))]
pub async fn list(
    ingest: web::Data<IngestService>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    page: PageQuery,
) -> Result<HttpResponse, IngestError> {
    Ok(HttpResponse::Ok().json(ingest.list_documents(&caller, *id, &page).await?))
}

/// Get a document
///
/// Its status: `queued` → `processing` (with `stage` and `progress`) → `ready` (with `chunk_count`), or
/// `failed` (with a stable `error_code`).
#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "knowledge", operation_id = "get_document",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "the document", body = DocumentView),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
pub async fn get(
    ingest: web::Data<IngestService>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, IngestError> {
    Ok(HttpResponse::Ok().json(ingest.get_document(&caller, *id).await?))
}

/// Read a document's text
///
/// Its extracted text at one page (PDF), slide (presentations) or part (text, transcripts), as the viewer shows
/// it: the passages in reading order with their heading trail and times. A citation's `chunk_id` opens the
/// location that holds it.
#[utoipa::path(get, path = "/api/v1/documents/{id}/content", tag = "knowledge", operation_id = "get_document_content",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path), ContentQuery),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "the text at that location", body = DocumentContent),
        (status = 404, description = "`not_found`: no such document, chunk, or location with text", body = ErrorBody),
        (status = 422, description = "`invalid_request`: more than one location given, or one of another unit",
            body = ErrorBody)))]
pub async fn content(
    ingest: web::Data<IngestService>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    query: web::Query<ContentQuery>,
) -> Result<HttpResponse, IngestError> {
    Ok(HttpResponse::Ok().json(ingest.document_content(&caller, *id, &query).await?))
}

/// Delete a document
///
/// Deletes the document, its chunks, its vectors and its file.
#[utoipa::path(delete, path = "/api/v1/documents/{id}", tag = "knowledge", operation_id = "delete_document",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 204, description = "deleted"), (status = 404, description = "`not_found`", body = ErrorBody)))]
pub async fn delete(
    ingest: web::Data<IngestService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, IngestError> {
    ingest.delete_document(&caller.user, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Process a document again
///
/// Runs the pipeline again (after a failure, or once a transcription provider is configured).
#[utoipa::path(post, path = "/api/v1/documents/{id}/reprocess", tag = "knowledge",
    operation_id = "reprocess_document",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 202, description = "queued again", body = DocumentView),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`conflict`: it is already queued or processing", body = ErrorBody)))]
pub async fn reprocess(
    ingest: web::Data<IngestService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, IngestError> {
    Ok(HttpResponse::Accepted().json(ingest.reprocess(&caller.user, *id).await?))
}

fn frame(event: &DocumentEvent) -> Bytes {
    let json = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    Bytes::from(format!("event: document\ndata: {json}\n\n"))
}

/// Follow a document's progress
///
/// Server-Sent Events named `document`: the document's state now, then every change, until it is `ready` or
/// `failed`.
#[utoipa::path(get, path = "/api/v1/documents/{id}/events", tag = "knowledge", operation_id = "stream_document_events",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "an event stream of `document` events, each one's data a `DocumentEvent`",
            content_type = "text/event-stream", body = DocumentSse),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
pub async fn events(
    ingest: web::Data<IngestService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, IngestError> {
    let events = ingest.document_updates(&caller.user, *id).await?;
    // A comment line every 15 s keeps proxies from closing a quiet stream.
    let every = Duration::from_secs(15);
    let ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let body = futures_util::stream::unfold((events, ticker, false), |(mut events, mut ticker, done)| async move {
        if done {
            return None;
        }
        tokio::select! {
            next = events.next() => {
                let event = next?;
                let finished = event.finished();
                Some((Ok::<_, actix_web::Error>(frame(&event)), (events, ticker, finished)))
            }
            _ = ticker.tick() => Some((Ok(Bytes::from_static(b": keepalive\n\n")), (events, ticker, false))),
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body))
}
