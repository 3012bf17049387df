//! The ingest job: file → sniff → extract → chunk → embed → index → `ready`. One job per document, keyed by the
//! document id, so an upload and a reprocess never run side by side. Idempotent: a rerun first removes whatever
//! an interrupted run left behind.
//!
//! Each step has its own file: [`extract`] (text with its structure, per format), [`transcribe`] (audio and video,
//! through [`ffmpeg`]), [`chunker`], [`index`] (embedding and writing chunks and vectors).

pub mod chunker;
pub mod extract;
mod ffmpeg;
mod index;
pub mod passages;
mod transcribe;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use self::chunker::{ChunkConfig, Location, Piece};
use self::extract::{DocKind, ExtractError, Limits};
use super::entities::document;
use super::views::{DocumentEvent, DocumentFinished};
use super::{progress, store};
use crate::platform::Backends;
use crate::platform::jobs::{Job, JobError, JobHandler};

pub const KIND: &str = "ingest.document";
const EXTRACT_TIMEOUT: Duration = Duration::from_secs(300);
/// How often a running extraction's page or slide count is turned into progress.
const EXTRACT_PROGRESS_EVERY: Duration = Duration::from_millis(300);

/// Where each stage starts on the 0–100 bar, sized by where the time goes: extraction (pages read) or
/// transcription (pieces heard) up to `CHUNKING`, then embedding the chunks, the bulk of the work on a CPU, up to
/// `INDEXED`. Each stage moves by its own units of work done, so the bar never sits still for long.
mod pct {
    pub const READING: i16 = 2;
    pub const EXTRACTING: i16 = 5;
    pub const CHUNKING: i16 = 30;
    pub const INDEXING: i16 = 32;
    pub const INDEXED: i16 = 99;
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Payload {
    pub document_id: Uuid,
    pub org_id: Uuid,
}

pub struct IngestJob {
    pub backends: Backends,
}

/// A document-level failure: the job succeeded in deciding the document cannot be ingested.
struct Failure {
    code: &'static str,
    message: String,
}

impl From<ExtractError> for Failure {
    fn from(err: ExtractError) -> Self {
        Self { code: err.code(), message: err.message() }
    }
}

enum StepError {
    /// The document was deleted (or its deletion began) while the job ran: stop, and write nothing more.
    Gone,
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
        let found = store::document_in_org(&self.backends.db, payload.org_id, payload.document_id).await;
        let Some(doc) = found.map_err(|e| JobError::Retry(e.into()))? else {
            return Ok(()); // deleted while queued: nothing to do
        };
        let last_attempt = job.attempts >= job.max_attempts;
        match self.ingest(doc.clone()).await {
            Ok(()) => Ok(()),
            Err(StepError::Gone) => {
                tracing::info!(document = %doc.id, "document deleted while it was processed; stopped");
                Ok(())
            }
            Err(StepError::RetryOrFail(failure)) if !last_attempt => {
                tracing::warn!(document = %doc.id, code = failure.code, "ingest attempt failed; will retry");
                Err(JobError::Retry(anyhow::anyhow!("{}: {}", failure.code, failure.message)))
            }
            Err(StepError::Document(failure) | StepError::RetryOrFail(failure)) => {
                fail(&self.backends, &doc, failure.code, &failure.message).await.map_err(JobError::Retry)?;
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
        if let Ok(Some(doc)) = store::document_by_id(&self.backends.db, payload.document_id).await {
            // The uploader (a student may read it too) gets a stable code and a plain message; what went wrong
            // inside (an upstream's words, a storage path) goes to the log only.
            tracing::warn!(
                document = %doc.id,
                attempts = job.attempts,
                last_error = job.last_error.as_deref().unwrap_or("none"),
                "document processing gave up"
            );
            let message = format!(
                "Processing failed after {} attempts. Reprocess the document to try again; if it keeps failing, \
                 an administrator can find the cause in the server log.",
                job.attempts
            );
            if let Err(err) = fail(&self.backends, &doc, "processing_failed", &message).await {
                tracing::error!(error = ?err, "could not mark a document failed");
            }
        }
    }
}

impl IngestJob {
    async fn ingest(&self, doc: document::Model) -> Result<(), StepError> {
        let b = &self.backends;
        set_stage(b, &doc, "reading", pct::READING).await?;
        let bytes = b.objects.get(&doc.blob_key).await?;
        let kind = extract::sniff(&bytes, Some(&doc.name)).map_err(|e| StepError::Document(e.into()))?;
        let pieces = if matches!(kind, DocKind::Audio | DocKind::Video) {
            transcribe::transcribe(b, &doc, bytes).await?
        } else {
            set_stage(b, &doc, "extracting", pct::EXTRACTING).await?;
            extract_pieces(b, &doc, kind, bytes).await?
        };
        set_stage(b, &doc, "chunking", pct::CHUNKING).await?;
        let chunks = self.chunk(&pieces);
        if chunks.is_empty() {
            let message = if matches!(kind, DocKind::Audio | DocKind::Video) {
                "no speech could be found in this recording"
            } else {
                "no text could be found in this document"
            };
            return Err(StepError::Document(Failure { code: "empty_document", message: message.into() }));
        }
        let total = index::index(b, &doc, &chunks).await?;
        let count = i32::try_from(total).unwrap_or(i32::MAX);
        let ready = store::mark_ready(&b.db, &doc, kind_name(kind), count).await?.ok_or(StepError::Gone)?;
        progress::publish_state(b.pubsub.as_ref(), &ready).await;
        b.local_events.emit(&DocumentFinished::from(&ready));
        tracing::info!(document = %ready.id, chunks = total, "document ready");
        Ok(())
    }

    /// Chunks sized in the embedding model's own tokens; without a model, in words (which over-estimates nothing:
    /// a word is at least one word piece).
    fn chunk(&self, pieces: &[Piece]) -> Vec<chunker::Chunk> {
        let started = std::time::Instant::now();
        let chunks = match &self.backends.embeddings {
            Some(embedder) => {
                let config =
                    ChunkConfig { max_tokens: embedder.max_tokens().saturating_sub(26).max(32), overlap: 0.15 };
                chunker::chunk(pieces, config, &|t| embedder.count_tokens(t))
            }
            None => chunker::chunk(pieces, ChunkConfig::default(), &|t| t.split_whitespace().count()),
        };
        tracing::debug!(chunks = chunks.len(), elapsed_ms = started.elapsed().as_millis(), "chunked");
        chunks
    }
}

/// The text of a document that is not a recording, with its locations; progress by pages or slides read.
async fn extract_pieces(
    backends: &Backends,
    doc: &document::Model,
    kind: DocKind,
    bytes: bytes::Bytes,
) -> Result<Vec<Piece>, StepError> {
    let progress = std::sync::Arc::new(extract::Progress::default());
    let extraction = extract::extract_guarded(kind, bytes, Limits::default(), EXTRACT_TIMEOUT, progress.clone());
    tokio::pin!(extraction);
    let mut ticks = tokio::time::interval(EXTRACT_PROGRESS_EVERY);
    let mut shown = pct::EXTRACTING;
    let extracted = loop {
        tokio::select! {
            result = &mut extraction => break result.map_err(|e| StepError::Document(e.into()))?,
            _ = ticks.tick() => {
                let Some(done) = progress.fraction() else { continue };
                let now = between(pct::EXTRACTING, pct::CHUNKING, done);
                if now > shown {
                    set_stage(backends, doc, "extracting", now).await?;
                    shown = now;
                }
            }
        }
    };
    Ok(extracted
        .sections
        .into_iter()
        .map(|s| Piece {
            text: s.text,
            location: Location { page: s.page, slide: s.slide, heading_path: s.heading_path },
            start_ms: s.start_ms,
            end_ms: s.end_ms,
        })
        .collect())
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

/// The point `done` (0 to 1) of the way from `from` to `to`.
fn between(from: i16, to: i16, done: f32) -> i16 {
    from + (f32::from(to - from) * done.clamp(0.0, 1.0)) as i16
}

/// Records and announces the stage; `Gone` when the document was deleted or its deletion began.
async fn set_stage(backends: &Backends, doc: &document::Model, stage: &str, pct: i16) -> Result<(), StepError> {
    if !store::set_progress(&backends.db, doc.id, stage, pct).await? {
        return Err(StepError::Gone);
    }
    let mut event = DocumentEvent::from(doc);
    event.status = "processing".into();
    event.stage = Some(stage.into());
    event.progress = pct;
    progress::publish(backends.pubsub.as_ref(), doc, event).await;
    Ok(())
}

async fn fail(backends: &Backends, doc: &document::Model, code: &str, message: &str) -> anyhow::Result<()> {
    match store::mark_failed(&backends.db, doc, code, message).await? {
        Some(failed) => {
            tracing::warn!(document = %doc.id, code, "document failed");
            progress::publish_state(backends.pubsub.as_ref(), &failed).await;
            backends.local_events.emit(&DocumentFinished::from(&failed));
        }
        None => tracing::info!(document = %doc.id, "document deleted before it could be marked failed"),
    }
    Ok(())
}
