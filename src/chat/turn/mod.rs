//! One turn: retrieve, then answer (from the model, the extractive tutor, or "not covered"), streaming frames to
//! the asker's outbox and the session's other watchers, and store the answer however it ends.

mod emit;
mod sources;

use std::time::Instant;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use self::emit::Emitter;
use super::cues::{Cue, CueAt, CueParser};
use super::entities::{chat_message, chat_session};
use super::error::ChatError;
use super::hub::{Outbox, TurnGuard};
use super::service::ChatService;
use super::store::{self, NewMessage};
use super::views::{ChatActivity, Citation, MessageView, ServerFrame};
use super::{followup, prompt};
use crate::persona::Persona;
use crate::platform::llm::chat::{ChatErrorKind, ChatEvent, ChatStream, TokenUsage};

pub struct Turn {
    pub session: chat_session::Model,
    pub persona: Persona,
    pub question: chat_message::Model,
    /// The connection that asked, if a WebSocket: it gets frames from its outbox, not from the bus.
    pub origin: Option<Uuid>,
}

pub struct TurnResult {
    pub message: MessageView,
    pub citations: Vec<Citation>,
    pub cues: Vec<CueAt>,
    pub usage: Option<TokenUsage>,
    /// The model failed: the answer is stored as `failed` and an `error` frame was sent.
    pub failed: Option<ChatErrorKind>,
}

/// How the answer's stream ended.
struct Streamed {
    /// `complete`, `cancelled` or `failed`.
    status: &'static str,
    failed: Option<ChatErrorKind>,
    usage: Option<TokenUsage>,
    /// Where the visible text ended, for the closing `idle` cue.
    end_char: usize,
}

/// Runs the turn to its end. The guard's token (the student's `message.cancel`, or the asker going away) stops it
/// and the upstream request; what was written so far is kept as a `cancelled` answer. The guard is released
/// before the last frame, so a client may send its next question as soon as it sees `answer.done` or `error`.
pub async fn run(chat: &ChatService, turn: &Turn, outbox: &Outbox, guard: TurnGuard) -> Result<TurnResult, ChatError> {
    let cancel: CancellationToken = guard.cancel.clone();
    let started = Instant::now();
    let clips = chat.avatars.mapping(turn.session.org_id, turn.persona.avatar_id).await?;
    let mut em = Emitter {
        hub: &chat.hub,
        outbox,
        turn,
        clips,
        answer_id: Uuid::now_v7(),
        cues: Vec::new(),
        text: String::new(),
    };
    em.cue(Cue::Think, 0).await;
    let plan = sources::plan(chat, turn, &cancel).await?;
    let mut streamed = stream(&mut em, plan.stream, &cancel).await;
    streamed.usage = followup::add_usage(plan.rewrite_usage, streamed.usage);

    let citations = if plan.answered_by == "not_covered" || em.text.trim().is_empty() {
        Vec::new()
    } else {
        prompt::citations(&em.text, &plan.sources, chat.backends.config.chat.snippet_chars)
    };
    if streamed.failed.is_none() {
        for citation in &citations {
            em.emit(ServerFrame::AnswerCitation { message_id: em.answer_id, citation: citation.clone() }).await;
        }
    }
    em.cue(Cue::Idle, streamed.end_char).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let row = store::insert_message(
        &chat.backends.db,
        NewMessage {
            id: em.answer_id,
            org_id: turn.session.org_id,
            session_id: turn.session.id,
            role: "assistant",
            content: std::mem::take(&mut em.text),
            status: streamed.status,
            answered_by: plan.answered_by,
            citations: Some(serde_json::to_value(&citations).map_err(anyhow::Error::from)?),
            cues: Some(serde_json::to_value(&em.cues).map_err(anyhow::Error::from)?),
            usage: streamed.usage.map(serde_json::to_value).transpose().map_err(anyhow::Error::from)?,
            latency_ms: i64::try_from(latency_ms).ok(),
            error_code: streamed.failed.map(|k| k.code().to_owned()),
        },
    )
    .await?;
    guard.release().await;
    let mut documents: Vec<Uuid> = citations.iter().map(|c| c.document_id).collect();
    documents.sort_unstable();
    documents.dedup();
    chat.backends.local_events.emit(&ChatActivity::AnswerCompleted {
        org_id: row.org_id,
        user_id: turn.session.user_id,
        session_id: row.session_id,
        persona_id: turn.session.persona_id,
        question_id: turn.question.id,
        message_id: row.id,
        answered_by: row.answered_by.clone(),
        status: row.status.clone(),
        latency_ms,
        tokens: streamed.usage.map(|u| u.total_tokens),
        documents,
        at: row.created_at,
    });
    let last = match streamed.failed {
        Some(kind) => ServerFrame::Error {
            code: kind.code().to_owned(),
            message: kind.public_message().to_owned(),
            message_id: Some(em.answer_id),
            details: None,
        },
        None => ServerFrame::AnswerDone {
            message_id: em.answer_id,
            usage: streamed.usage,
            latency_ms,
            status: streamed.status.into(),
        },
    };
    em.emit(last).await;
    let Streamed { usage, failed, .. } = streamed;
    Ok(TurnResult { message: MessageView::from(row), citations, cues: em.cues, usage, failed })
}

/// Relays the answer's stream as frames until it ends, fails, is cancelled, or nobody reads it any more.
async fn stream(em: &mut Emitter<'_>, mut stream: ChatStream, cancel: &CancellationToken) -> Streamed {
    let mut parser = CueParser::new();
    let (mut status, mut failed, mut usage, mut started) = ("complete", None, None, false);
    loop {
        let event = tokio::select! {
            biased;
            () = cancel.cancelled() => {
                status = "cancelled";
                break;
            }
            // The asker is gone: stop paying for an answer nobody reads.
            () = em.outbox.gone() => {
                status = "cancelled";
                break;
            }
            event = stream.next() => event,
        };
        let pieces = match event {
            Some(Ok(ChatEvent::Delta(delta))) => parser.push(&delta),
            Some(Ok(ChatEvent::Usage(u))) => {
                usage = Some(u);
                continue;
            }
            Some(Ok(ChatEvent::Done { .. })) => break,
            Some(Err(err)) => {
                tracing::warn!(error = %err, session_id = %em.turn.session.id, "the chat model failed");
                (status, failed) = ("failed", Some(err.kind()));
                break;
            }
            None => {
                (status, failed) = ("failed", Some(ChatErrorKind::Interrupted));
                break;
            }
        };
        if !started {
            started = true;
            em.cue(Cue::Explain, 0).await;
        }
        em.pieces(pieces).await;
    }
    drop(stream); // closes the upstream request now if it is still open
    em.pieces(parser.finish()).await;
    Streamed { status, failed, usage, end_char: parser.position() }
}
