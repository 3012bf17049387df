//! Document progress, pushed as it happens: published on the `document:<id>` topic (in process, or through
//! Redis so every replica's subscribers see it) and streamed as Server-Sent Events; and on the one
//! [`UPLOADS_TOPIC`] with the uploader's id, which the chat WebSocket forwards to the uploader's connections.

use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::entities::document;
use super::error::IngestError;
use super::service;
use crate::app::AppState;
use crate::auth::{RequireRole, Staff};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DocumentEvent {
    pub id: Uuid,
    /// `queued`, `processing`, `ready` or `failed`.
    pub status: String,
    pub stage: Option<String>,
    pub progress: i16,
    pub chunk_count: i32,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Routes the event to the uploader's WebSocket; not part of the event itself.
    #[serde(skip)]
    pub uploaded_by: Uuid,
}

/// One topic for every document's events with their uploader, so a replica subscribes once for all its
/// WebSocket connections rather than once per connection or document.
pub const UPLOADS_TOPIC: &str = "document-uploads";

#[derive(Serialize, Deserialize)]
struct UploadEnvelope {
    uploaded_by: Uuid,
    event: DocumentEvent,
}

/// Every document event from now on, with its uploader's id (from every replica when Redis is configured).
pub async fn uploads(state: &AppState) -> anyhow::Result<futures_util::stream::BoxStream<'static, DocumentEvent>> {
    let raw = state.pubsub.subscribe(UPLOADS_TOPIC).await?;
    Ok(raw
        .filter_map(|json| async move {
            let envelope = serde_json::from_str::<UploadEnvelope>(&json).ok()?;
            Some(DocumentEvent { uploaded_by: envelope.uploaded_by, ..envelope.event })
        })
        .boxed())
}

impl From<&document::Model> for DocumentEvent {
    fn from(doc: &document::Model) -> Self {
        Self {
            id: doc.id,
            status: doc.status.clone(),
            stage: doc.stage.clone(),
            progress: doc.progress,
            chunk_count: doc.chunk_count,
            error_code: doc.error_code.clone(),
            error_message: doc.error_message.clone(),
            uploaded_by: doc.uploaded_by,
        }
    }
}

impl DocumentEvent {
    fn finished(&self) -> bool {
        matches!(self.status.as_str(), "ready" | "failed")
    }
}

fn topic(id: Uuid) -> String {
    format!("document:{id}")
}

/// Best effort: progress is also in the table, so a lost event costs a client a refresh, never data.
pub async fn publish(state: &AppState, event: DocumentEvent) {
    let Ok(json) = serde_json::to_string(&event) else { return };
    if let Err(err) = state.pubsub.publish(&topic(event.id), json).await {
        tracing::warn!(error = ?err, "could not publish a document event");
    }
    let envelope = UploadEnvelope { uploaded_by: event.uploaded_by, event };
    let Ok(json) = serde_json::to_string(&envelope) else { return };
    if let Err(err) = state.pubsub.publish(UPLOADS_TOPIC, json).await {
        tracing::warn!(error = ?err, "could not publish a document event to its uploader");
    }
}

fn frame(event: &DocumentEvent) -> Bytes {
    let json = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    Bytes::from(format!("event: document\ndata: {json}\n\n"))
}

/// The document's state now, then every change, until it is `ready` or `failed`.
#[utoipa::path(get, path = "/api/v1/documents/{id}/events", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, content_type = "text/event-stream", body = DocumentEvent),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn stream(
    state: web::Data<AppState>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, IngestError> {
    let caller = caller.user;
    // Subscribe before reading the row, so no change falls between the two.
    let updates = state.pubsub.subscribe(&topic(*id)).await?;
    let current = DocumentEvent::from(&service::find_document(&state, caller.org_id, *id).await?);
    let parsed = updates.filter_map(|json| async move { serde_json::from_str::<DocumentEvent>(&json).ok() });
    let events = futures_util::stream::iter([current]).chain(parsed).boxed();
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
