//! The ingest job: file → sniff → extract → chunk → embed → index → `ready`. One job per document, keyed by
//! the document id, so an upload and a reprocess never run side by side. Idempotent: a rerun first removes
//! whatever an interrupted run left behind.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::chunker::{self, ChunkConfig, Location, Piece};
use super::entities::{chunk, document};
use super::events::{self, DocumentEvent};
use super::extract::{self, DocKind, ExtractError, Limits};
use super::passages;
use super::transcribe;
use crate::app::AppState;
use crate::platform::jobs::{Job, JobError, JobHandler};
use crate::platform::vectors::{PointPayload, VectorFilter, VectorPoint, bm25_sparse};

pub const KIND: &str = "ingest.document";
const EMBED_BATCH: usize = 64;
const EXTRACT_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Serialize, Deserialize)]
pub struct Payload {
    pub document_id: Uuid,
    pub org_id: Uuid,
}

pub struct IngestJob {
    pub state: Arc<AppState>,
}

/// A document-level failure: the job succeeded in deciding the document cannot be ingested.
pub(super) struct Failure {
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl From<ExtractError> for Failure {
    fn from(err: ExtractError) -> Self {
        Self { code: err.code(), message: err.message() }
    }
}

pub(super) enum StepError {
    Document(Failure),
    Retry(anyhow::Error),
    /// Worth another attempt (an upstream outage); on the job's last attempt the document fails with this.
    RetryOrFail(Failure),
}

impl<E: Into<anyhow::Error>> From<E> for StepError {
    fn from(err: E) -> Self {
        Self::Retry(err.into())
    }
}

#[async_trait::async_trait]
impl JobHandler for IngestJob {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let payload: Payload =
            serde_json::from_value(job.payload.clone()).map_err(|e| JobError::Permanent(anyhow::Error::new(e)))?;
        let Some(doc) = document::Entity::find_by_id(payload.document_id)
            .filter(document::Column::OrgId.eq(payload.org_id))
            .one(&self.state.db)
            .await
            .map_err(|e| JobError::Retry(e.into()))?
        else {
            return Ok(()); // deleted while queued: nothing to do
        };
        let last_attempt = job.attempts >= job.max_attempts;
        match self.ingest(doc.clone()).await {
            Ok(()) => Ok(()),
            Err(StepError::RetryOrFail(failure)) if !last_attempt => {
                tracing::warn!(document = %doc.id, code = failure.code, "ingest attempt failed; will retry");
                Err(JobError::Retry(anyhow::anyhow!("{}: {}", failure.code, failure.message)))
            }
            Err(StepError::Document(failure) | StepError::RetryOrFail(failure)) => {
                fail(&self.state, &doc, failure.code, &failure.message).await.map_err(JobError::Retry)?;
                Ok(())
            }
            Err(StepError::Retry(cause)) => {
                tracing::warn!(document = %doc.id, error = ?cause, "ingest attempt failed");
                Err(JobError::Retry(cause))
            }
        }
    }

    async fn on_dead(&self, job: &Job) {
        // Out of attempts: say so on the document instead of leaving it `processing` forever.
        let Ok(payload) = serde_json::from_value::<Payload>(job.payload.clone()) else { return };
        let found = document::Entity::find_by_id(payload.document_id).one(&self.state.db).await;
        if let Ok(Some(doc)) = found {
            let message = format!(
                "processing failed after {} attempts; reprocess to try again ({})",
                job.attempts,
                job.last_error.as_deref().unwrap_or("no detail")
            );
            if let Err(err) = fail(&self.state, &doc, "processing_failed", &message).await {
                tracing::error!(error = ?err, "could not mark a document failed");
            }
        }
    }
}

impl IngestJob {
    async fn ingest(&self, doc: document::Model) -> Result<(), StepError> {
        let state = &self.state;
        progress(state, &doc, "reading", 2).await?;
        let bytes = state.storage.get(&doc.blob_key).await?;
        let kind = extract::sniff(&bytes, Some(&doc.name)).map_err(|e| StepError::Document(e.into()))?;
        let pieces = if matches!(kind, DocKind::Audio | DocKind::Video) {
            transcribe::transcribe(state, &doc, bytes).await?
        } else {
            progress(state, &doc, "extracting", 5).await?;
            let extracted = extract::extract_guarded(kind, bytes, Limits::default(), EXTRACT_TIMEOUT)
                .await
                .map_err(|e| StepError::Document(e.into()))?;
            extracted
                .sections
                .into_iter()
                .map(|s| Piece {
                    text: s.text,
                    location: Location { page: s.page, slide: s.slide, heading_path: s.heading_path },
                    start_ms: s.start_ms,
                    end_ms: s.end_ms,
                })
                .collect()
        };
        progress(state, &doc, "chunking", 15).await?;
        let chunks = match &state.embedder {
            Some(embedder) => {
                let config =
                    ChunkConfig { max_tokens: embedder.max_tokens().saturating_sub(26).max(32), overlap: 0.15 };
                chunker::chunk(&pieces, config, &|t| embedder.count_tokens(t))
            }
            // No model: size by words, which over-estimates nothing (a word is at least one word piece).
            None => chunker::chunk(&pieces, ChunkConfig::default(), &|t| t.split_whitespace().count()),
        };
        if chunks.is_empty() {
            let message = if matches!(kind, DocKind::Audio | DocKind::Video) {
                "no speech could be found in this recording"
            } else {
                "no text could be found in this document"
            };
            return Err(StepError::Document(Failure { code: "empty_document", message: message.into() }));
        }
        // A rerun (retry, reprocess) replaces everything a previous run wrote.
        let filter = VectorFilter::org(doc.org_id).with_documents([doc.id]);
        state.vectors.delete(&filter).await?;
        chunk::Entity::delete_many().filter(chunk::Column::DocumentId.eq(doc.id)).exec(&state.db).await?;

        let total = chunks.len();
        for (batch_index, batch) in chunks.chunks(EMBED_BATCH).enumerate() {
            let first = batch_index * EMBED_BATCH;
            let inputs: Vec<String> =
                batch.iter().map(|c| passages::contextual_text(&doc.name, &c.location, &c.text)).collect();
            // Window vectors only exist next to a dense model (BM25 scores the chunk as a whole).
            let windows: Vec<(usize, String)> = match &state.embedder {
                Some(_) => batch
                    .iter()
                    .enumerate()
                    .flat_map(|(i, c)| {
                        let name = &doc.name;
                        passages::windows(c)
                            .into_iter()
                            .map(move |w| (i, passages::contextual_text(name, &c.location, &w)))
                    })
                    .collect(),
                None => Vec::new(),
            };
            let (dense, window_dense) = match &state.embedder {
                Some(embedder) => {
                    let mut all = inputs.clone();
                    all.extend(windows.iter().map(|(_, text)| text.clone()));
                    let mut vectors = embedder.embed(&all).await?;
                    let window_vectors = vectors.split_off(inputs.len());
                    (Some(vectors), window_vectors)
                }
                None => (None, Vec::new()),
            };
            let mut points = Vec::with_capacity(batch.len() + windows.len());
            let mut rows = Vec::with_capacity(batch.len());
            let ids: Vec<Uuid> = batch.iter().map(|_| Uuid::now_v7()).collect();
            for ((offset, _), vector) in windows.iter().zip(window_dense) {
                let mut extra = serde_json::Map::new();
                extra.insert(passages::WINDOW_FLAG.into(), true.into());
                points.push(VectorPoint {
                    id: Uuid::now_v7(),
                    dense: Some(vector),
                    sparse: None,
                    payload: PointPayload {
                        org_id: doc.org_id,
                        collection_id: doc.collection_id,
                        document_id: doc.id,
                        chunk_id: ids[*offset],
                        extra,
                    },
                });
            }
            for (offset, c) in batch.iter().enumerate() {
                let id = ids[offset];
                let mut extra = serde_json::Map::new();
                extra.insert("ordinal".into(), (first + offset).into());
                points.push(VectorPoint {
                    id,
                    dense: dense.as_ref().map(|d| d[offset].clone()),
                    sparse: Some(bm25_sparse(&inputs[offset])),
                    payload: PointPayload {
                        org_id: doc.org_id,
                        collection_id: doc.collection_id,
                        document_id: doc.id,
                        chunk_id: id,
                        extra,
                    },
                });
                rows.push(chunk::ActiveModel {
                    id: Set(id),
                    org_id: Set(doc.org_id),
                    collection_id: Set(doc.collection_id),
                    document_id: Set(doc.id),
                    ordinal: Set(i32::try_from(first + offset).unwrap_or(i32::MAX)),
                    text: Set(c.text.clone()),
                    page: Set(c.location.page.map(|p| p as i32)),
                    slide: Set(c.location.slide.map(|p| p as i32)),
                    heading_path: Set(c.location.heading_path.join(" > ")),
                    start_ms: Set(c.start_ms.map(|t| t as i64)),
                    end_ms: Set(c.end_ms.map(|t| t as i64)),
                    token_count: Set(i32::try_from(c.token_count).unwrap_or(i32::MAX)),
                });
            }
            chunk::Entity::insert_many(rows).exec(&state.db).await?;
            state.vectors.upsert(points).await?;
            let done = first + batch.len();
            let pct = 20 + (75 * done / total) as i16;
            progress(state, &doc, "indexing", pct).await?;
        }
        let mut ready: document::ActiveModel = doc.clone().into();
        ready.status = Set("ready".into());
        ready.stage = Set(None);
        ready.progress = Set(100);
        ready.kind = Set(Some(kind_name(kind).into()));
        ready.chunk_count = Set(i32::try_from(total).unwrap_or(i32::MAX));
        ready.error_code = Set(None);
        ready.error_message = Set(None);
        ready.updated_at = Set(Utc::now());
        let ready = ready.update(&state.db).await?;
        events::publish(state, DocumentEvent::from(&ready)).await;
        tracing::info!(document = %doc.id, chunks = total, "document ready");
        Ok(())
    }
}

pub fn kind_name(kind: DocKind) -> &'static str {
    match kind {
        DocKind::Pdf => "pdf",
        DocKind::Docx => "docx",
        DocKind::Pptx => "pptx",
        DocKind::Text => "text",
        DocKind::Markdown => "markdown",
        DocKind::Html => "html",
        DocKind::Srt => "srt",
        DocKind::Vtt => "vtt",
        DocKind::Audio => "audio",
        DocKind::Video => "video",
    }
}

pub(super) async fn progress(state: &AppState, doc: &document::Model, stage: &str, pct: i16) -> anyhow::Result<()> {
    let updated = document::Entity::update_many()
        .col_expr(document::Column::Status, sea_orm::sea_query::Expr::value("processing"))
        .col_expr(document::Column::Stage, sea_orm::sea_query::Expr::value(stage))
        .col_expr(document::Column::Progress, sea_orm::sea_query::Expr::value(pct))
        .col_expr(document::Column::UpdatedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(document::Column::Id.eq(doc.id))
        .exec(&state.db)
        .await?;
    if updated.rows_affected == 1 {
        let mut event = DocumentEvent::from(doc);
        event.status = "processing".into();
        event.stage = Some(stage.into());
        event.progress = pct;
        events::publish(state, event).await;
    }
    Ok(())
}

async fn fail(state: &AppState, doc: &document::Model, code: &str, message: &str) -> anyhow::Result<()> {
    let mut failed: document::ActiveModel = doc.clone().into();
    failed.status = Set("failed".into());
    failed.stage = Set(None);
    failed.error_code = Set(Some(code.into()));
    failed.error_message = Set(Some(message.into()));
    failed.updated_at = Set(Utc::now());
    let failed = failed.update(&state.db).await?;
    tracing::warn!(document = %doc.id, code, "document failed");
    events::publish(state, DocumentEvent::from(&failed)).await;
    Ok(())
}
