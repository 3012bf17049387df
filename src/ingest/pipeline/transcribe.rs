//! The ingest step for audio and video: blob → temp file → ffmpeg pieces → transcriber, piece by piece →
//! timed text for the chunker.

use anyhow::Context;
use bytes::Bytes;

use super::chunker::{Location, Piece};
use super::ffmpeg::{self, MediaError, WorkDir};
use super::{Failure, StepError, between, pct, set_stage};
use crate::ingest::entities::document;
use crate::platform::Backends;
use crate::platform::llm::transcription::TranscribeError;

pub(super) async fn transcribe(
    backends: &Backends,
    doc: &document::Model,
    bytes: Bytes,
) -> Result<Vec<Piece>, StepError> {
    let Some(transcriber) = &backends.transcription else {
        return Err(StepError::Document(Failure {
            code: "transcription_unavailable",
            message: "audio and video need a transcription provider: set transcription.base_url (an \
                      OpenAI-compatible /audio/transcriptions server such as faster-whisper-server, or \
                      https://api.openai.com/v1 with transcription.api_key) and reprocess"
                .into(),
        }));
    };
    let settings = &backends.config.transcription;
    set_stage(backends, doc, "extracting", pct::EXTRACTING).await?;
    let work = WorkDir::create(&backends.config.server.data_dir.join("tmp")).await?;
    let input = work.path().join("input");
    tokio::fs::write(&input, &bytes).await.context("writing the recording to a temp file")?;
    drop(bytes);
    let pieces = ffmpeg::prepare(settings, &input, work.path()).await.map_err(media_failure)?;
    // The converted pieces are all that is needed now; a 100 MB video need not sit on disk while we wait.
    let _ = tokio::fs::remove_file(&input).await;
    let mut out = Vec::new();
    for (index, piece) in pieces.iter().enumerate() {
        let done = index as f32 / pieces.len().max(1) as f32;
        set_stage(backends, doc, "transcribing", between(pct::EXTRACTING, pct::CHUNKING, done)).await?;
        let segments = transcriber.transcribe(&piece.path).await.map_err(|e| transcription_failure(doc, &e))?;
        out.extend(piece.place(segments).into_iter().map(|s| Piece {
            text: s.text,
            location: Location::default(),
            start_ms: Some(s.start_ms),
            end_ms: Some(s.end_ms),
        }));
    }
    tracing::info!(document = %doc.id, pieces = pieces.len(), segments = out.len(), "transcribed");
    Ok(out)
}

fn media_failure(err: MediaError) -> StepError {
    match err {
        MediaError::Local(cause) => StepError::Retry(cause),
        other => StepError::Document(Failure { code: other.code(), message: other.message() }),
    }
}

/// The uploader sees what happened and who can fix it; the endpoint's own words go to the log only.
fn transcription_failure(doc: &document::Model, err: &TranscribeError) -> StepError {
    tracing::warn!(document = %doc.id, error = %err, retryable = err.retryable(), "transcription failed");
    let message = match err {
        TranscribeError::Upstream { status: 413, .. } => "The transcription service refused a piece of the recording \
            as too large (HTTP 413); an administrator can lower transcription.segment_secs, then reprocess."
            .to_owned(),
        TranscribeError::Upstream { status: status @ (401 | 403), .. } => format!(
            "The transcription service refused the server's credentials (HTTP {status}); an administrator should \
             check transcription.api_key."
        ),
        TranscribeError::Upstream { status: 404, .. } => "The transcription service does not know this endpoint or \
            model (HTTP 404); an administrator should check transcription.base_url and transcription.model."
            .to_owned(),
        TranscribeError::Upstream { status, .. } if err.retryable() => format!(
            "The transcription service kept failing (HTTP {status}); reprocess the document to try again later."
        ),
        TranscribeError::Upstream { status, .. } => {
            format!("The transcription service rejected the recording (HTTP {status}).")
        }
        TranscribeError::QuotaExceeded(_) => {
            "The transcription service's quota is used up; an administrator should check the account.".to_owned()
        }
        TranscribeError::Transport(_) | TranscribeError::Timeout(_) => "The transcription service could not be \
            reached or did not answer in time; reprocess the document to try again later."
            .to_owned(),
        TranscribeError::BadResponse(_) => "The transcription service answered with something that is not a \
            transcript; an administrator should check transcription.base_url."
            .to_owned(),
        TranscribeError::Local(_) => {
            "The transcription request could not be made; an administrator should check the transcription settings."
                .to_owned()
        }
    };
    let failure = Failure { code: "transcription_failed", message };
    if err.retryable() { StepError::RetryOrFail(failure) } else { StepError::Document(failure) }
}
