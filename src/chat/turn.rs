//! One turn: retrieve, then answer (from the model, the extractive tutor, or "not covered"), streaming frames
//! to the asker's outbox and the session's other watchers, and store the answer however it ends.

use std::time::Instant;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::cues::{Cue, CueAt, CueParser, Piece, clip_for};
use super::entities::{chat_message, chat_session};
use super::error::ChatError;
use super::hub::{Outbox, Outgoing, TurnGuard};
use super::store::{self, NewMessage};
use super::views::{Citation, MessageView, ServerFrame};
use super::{followup, prompt};
use crate::app::AppState;
use crate::ingest::search::SearchHit;
use crate::persona::Persona;
use crate::platform::llm::chat::{ChatErrorKind, ChatEvent, ChatMessage, ChatRequest, ChatStream, TokenUsage};

/// How many earlier messages are read as candidates for the prompt's history.
const HISTORY_ROWS: u64 = 50;

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

struct Emitter<'a> {
    state: &'a AppState,
    outbox: &'a Outbox,
    turn: &'a Turn,
    answer_id: Uuid,
    cues: Vec<CueAt>,
}

impl Emitter<'_> {
    async fn emit(&self, frame: ServerFrame) {
        let out = Outgoing::new(&frame);
        self.outbox.push(out.clone());
        self.state.chat.publish(self.turn.session.id, self.turn.origin, &out).await;
    }

    async fn cue(&mut self, cue: Cue, at_char: usize) {
        self.cues.push(CueAt { cue, at_char });
        let clip = clip_for(self.turn.persona.avatar_id, cue);
        self.emit(ServerFrame::AvatarCue { message_id: self.answer_id, cue, clip, at_char }).await;
    }
}

/// Runs the turn to its end. The guard's token (the student's `message.cancel`, or the asker going away) stops
/// it and the upstream request; what was written so far is kept as a `cancelled` answer. The guard is released
/// before the last frame, so a client may send its next question as soon as it sees `answer.done` or `error`.
pub async fn run(state: &AppState, turn: &Turn, outbox: &Outbox, guard: TurnGuard) -> Result<TurnResult, ChatError> {
    let cancel: CancellationToken = guard.cancel.clone();
    let started = Instant::now();
    let mut em = Emitter { state, outbox, turn, answer_id: Uuid::now_v7(), cues: Vec::new() };
    em.cue(Cue::Think, 0).await;
    let settings = &state.settings.chat;
    let mut sources = retrieve(state, &turn.persona, &turn.question.content).await?;
    let mut rewrite_usage = None;
    if matches!(sources, Retrieved::NotCovered)
        && let Some(llm) = &state.llm
        && let Some((question, used)) = followup::standalone_question(state, llm.as_ref(), turn, &cancel).await
    {
        tracing::debug!(session_id = %turn.session.id, %question, "searching a follow-up as a standalone question");
        rewrite_usage = used;
        sources = retrieve(state, &turn.persona, &question).await?;
    }
    let (answered_by, sources, mut stream): (&str, Vec<SearchHit>, ChatStream) = match (sources, &state.llm) {
        (Retrieved::NoMaterial, _) => ("not_covered", Vec::new(), canned(vec![prompt::NO_MATERIAL.to_owned()])),
        (Retrieved::NotCovered, _) => ("not_covered", Vec::new(), canned(vec![prompt::NOT_COVERED.to_owned()])),
        (Retrieved::Sources(mut hits), None) => {
            hits.truncate(settings.extractive_passages.max(1));
            let pieces = prompt::extractive_answer(&hits);
            ("extractive", hits, canned(pieces))
        }
        (Retrieved::Sources(hits), Some(llm)) => {
            let request = request(state, turn, &hits).await?;
            ("model", hits, llm.stream(request))
        }
    };

    let mut parser = CueParser::new();
    let mut text = String::new();
    let mut usage = None;
    let mut status = "complete";
    let mut failed = None;
    let mut streaming = false;
    loop {
        let event = tokio::select! {
            biased;
            () = cancel.cancelled() => {
                status = "cancelled";
                break;
            }
            // The asker is gone: stop paying for an answer nobody reads.
            () = outbox.gone() => {
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
                tracing::warn!(error = %err, session_id = %turn.session.id, "the chat model failed");
                status = "failed";
                failed = Some(err.kind());
                break;
            }
            None => {
                status = "failed";
                failed = Some(ChatErrorKind::Interrupted);
                break;
            }
        };
        if !streaming {
            streaming = true;
            em.cue(Cue::Explain, 0).await;
        }
        emit_pieces(&mut em, pieces, &mut text).await;
    }
    drop(stream); // closes the upstream request now if it is still open
    let usage = followup::add_usage(rewrite_usage, usage);
    let rest = parser.finish();
    emit_pieces(&mut em, rest, &mut text).await;

    let citations = if answered_by == "not_covered" || text.trim().is_empty() {
        Vec::new()
    } else {
        prompt::citations(&text, &sources, settings.snippet_chars)
    };
    if failed.is_none() {
        for citation in &citations {
            em.emit(ServerFrame::AnswerCitation { message_id: em.answer_id, citation: citation.clone() }).await;
        }
    }
    em.cue(Cue::Idle, parser.position()).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let row = store::insert_message(
        &state.db,
        NewMessage {
            id: em.answer_id,
            org_id: turn.session.org_id,
            session_id: turn.session.id,
            role: "assistant",
            content: text,
            status,
            answered_by,
            citations: Some(serde_json::to_value(&citations).map_err(anyhow::Error::from)?),
            cues: Some(serde_json::to_value(&em.cues).map_err(anyhow::Error::from)?),
            usage: usage.map(serde_json::to_value).transpose().map_err(anyhow::Error::from)?,
            latency_ms: i64::try_from(latency_ms).ok(),
            error_code: failed.map(|k| k.code().to_owned()),
        },
    )
    .await?;
    guard.release().await;
    match failed {
        Some(kind) => {
            em.emit(ServerFrame::Error {
                code: kind.code().to_owned(),
                message: kind.public_message().to_owned(),
                message_id: Some(em.answer_id),
            })
            .await;
        }
        None => {
            let done = ServerFrame::AnswerDone { message_id: em.answer_id, usage, latency_ms, status: status.into() };
            em.emit(done).await;
        }
    }
    let cues = em.cues;
    Ok(TurnResult { message: MessageView::from(row), citations, cues, usage, failed })
}

async fn emit_pieces(em: &mut Emitter<'_>, pieces: Vec<Piece>, text: &mut String) {
    for piece in pieces {
        match piece {
            Piece::Text(delta) => {
                text.push_str(&delta);
                em.emit(ServerFrame::AnswerDelta { message_id: em.answer_id, text: delta }).await;
            }
            Piece::Cue(at) => em.cue(at.cue, at.at_char).await,
        }
    }
}

/// A fixed answer, streamed like a model's.
fn canned(pieces: Vec<String>) -> ChatStream {
    let events = pieces.into_iter().map(|p| Ok(ChatEvent::Delta(p)));
    let done = std::iter::once(Ok(ChatEvent::Done { finish_reason: "stop".into() }));
    Box::pin(futures_util::stream::iter(events.chain(done)))
}

enum Retrieved {
    NoMaterial,
    NotCovered,
    Sources(Vec<SearchHit>),
}

/// Hybrid search over the persona's collections, gated by the relevance threshold of the search's mode.
async fn retrieve(state: &AppState, persona: &Persona, question: &str) -> Result<Retrieved, ChatError> {
    // No collections must not mean "every collection of the org" (what search does with an empty list).
    if persona.collection_ids.is_empty() {
        return Ok(Retrieved::NoMaterial);
    }
    let settings = &state.settings.chat;
    let query: String = question.chars().take(2000).collect();
    let found =
        crate::ingest::search::search(state, persona.org_id, &persona.collection_ids, &query, settings.top_k.max(1))
            .await
            .map_err(|e| anyhow::Error::new(e).context("searching the persona's collections"))?;
    let min = if found.mode == "hybrid" { settings.min_score_hybrid } else { settings.min_score_sparse };
    match found.results.first() {
        Some(best) if best.score >= min => Ok(Retrieved::Sources(found.results)),
        _ => Ok(Retrieved::NotCovered),
    }
}

async fn request(state: &AppState, turn: &Turn, sources: &[SearchHit]) -> Result<ChatRequest, ChatError> {
    let earlier =
        store::recent_before(&state.db, turn.session.org_id, turn.session.id, turn.question.id, HISTORY_ROWS).await?;
    let mut messages = vec![ChatMessage::system(prompt::system_prompt(&turn.persona, sources))];
    messages.extend(prompt::history(&earlier, state.settings.chat.history_token_budget));
    messages.push(ChatMessage::user(&turn.question.content));
    Ok(ChatRequest {
        messages,
        model: turn.persona.model.clone(),
        temperature: Some(turn.persona.temperature as f32),
        max_tokens: Some(turn.persona.max_tokens),
    })
}
