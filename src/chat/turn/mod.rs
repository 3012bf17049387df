//! One turn: retrieve, then answer (from the model, the extractive tutor, or "not covered"), streaming frames to
//! the asker's outbox and the session's other watchers, and store the answer however it ends.

mod emit;
mod sources;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sea_orm::DatabaseConnection;
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
    // A model's answer takes seconds: it is stored as a `streaming` draft first and saved as it grows, so a replica
    // that dies mid-answer leaves the partial text behind (the sweep then marks it `interrupted`). The other
    // answers are made here in microseconds and written once, at the end.
    let draft = plan.answered_by == "model";
    if draft {
        let row = answer_row(turn, em.answer_id, String::new(), "streaming", plan.answered_by);
        store::insert_message(&chat.backends.db, row).await?;
    }
    let drafts = draft.then_some((&chat.backends.db, em.answer_id));
    let mut streamed = stream(&mut em, plan.stream, &cancel, drafts).await;
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
    let answer = NewMessage {
        citations: Some(serde_json::to_value(&citations).map_err(anyhow::Error::from)?),
        cues: Some(serde_json::to_value(&em.cues).map_err(anyhow::Error::from)?),
        usage: streamed.usage.map(serde_json::to_value).transpose().map_err(anyhow::Error::from)?,
        latency_ms: i64::try_from(latency_ms).ok(),
        error_code: streamed.failed.map(|k| k.code().to_owned()),
        ..answer_row(turn, em.answer_id, std::mem::take(&mut em.text), streamed.status, plan.answered_by)
    };
    let db = &chat.backends.db;
    let row = if draft { store::finish_answer(db, answer).await? } else { store::insert_message(db, answer).await? };
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

/// The answer's row with nothing but its text and status.
fn answer_row(turn: &Turn, id: Uuid, content: String, status: &'static str, answered_by: &'static str) -> NewMessage {
    NewMessage {
        id,
        org_id: turn.session.org_id,
        session_id: turn.session.id,
        role: "assistant",
        content,
        status,
        answered_by,
        citations: None,
        cues: None,
        usage: None,
        latency_ms: None,
        error_code: None,
    }
}

/// How often a streaming answer's draft is saved: what a killed replica can lose.
const DRAFT_EVERY: Duration = Duration::from_secs(1);

/// Relays the answer's stream as frames until it ends, fails, is cancelled, or nobody reads it any more; with a
/// draft, saves the text so far at most every [`DRAFT_EVERY`].
async fn stream(
    em: &mut Emitter<'_>,
    mut stream: ChatStream,
    cancel: &CancellationToken,
    draft: Option<(&DatabaseConnection, Uuid)>,
) -> Streamed {
    let (mut next_save, mut unsaved) = (tokio::time::Instant::now() + DRAFT_EVERY, false);
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
            // Saved on a clock, not per delta: a model that stalls after a burst still has its burst saved.
            () = tokio::time::sleep_until(next_save), if unsaved => {
                if let Some((db, id)) = draft {
                    // Off the stream's path: a slow write must not hold back the deltas. A save that lands after
                    // the answer was finished changes nothing (it only touches a `streaming` row).
                    let (db, text) = (db.clone(), em.text.clone());
                    tokio::spawn(async move {
                        if let Err(err) = store::save_draft(&db, id, &text).await {
                            tracing::warn!(error = %err, message_id = %id, "saving a streaming answer's draft");
                        }
                    });
                }
                (next_save, unsaved) = (tokio::time::Instant::now() + DRAFT_EVERY, false);
                continue;
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
        unsaved = draft.is_some();
    }
    drop(stream); // closes the upstream request now if it is still open
    em.pieces(parser.finish()).await;
    Streamed { status, failed, usage, end_char: parser.position() }
}
