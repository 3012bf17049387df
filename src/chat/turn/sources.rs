//! Where a turn's answer comes from: the persona's material (gated by relevance), rewritten follow-ups, and the
//! choice between the model, the extractive tutor and "not covered".

use tokio_util::sync::CancellationToken;

use super::{Turn, emit::canned};
use crate::chat::error::ChatError;
use crate::chat::service::ChatService;
use crate::chat::{extractive, followup, lead, prompt, store};
use crate::ingest::views::SearchHit;
use crate::persona::Persona;
use crate::platform::llm::chat::{ChatMessage, ChatRequest, ChatStream, TokenUsage};

/// How many earlier messages are read as candidates for the prompt's history.
const HISTORY_ROWS: u64 = 50;

/// How the turn will answer, decided before the first word.
pub(super) struct Plan {
    /// `model`, `extractive` or `not_covered`.
    pub answered_by: &'static str,
    pub sources: Vec<SearchHit>,
    pub stream: ChatStream,
    /// Tokens a follow-up's rewrite used.
    pub rewrite_usage: Option<TokenUsage>,
}

pub(super) async fn plan(chat: &ChatService, turn: &Turn, cancel: &CancellationToken) -> Result<Plan, ChatError> {
    let llm = chat.backends.llm.as_ref();
    let mut found = retrieve(chat, &turn.persona, &turn.question.content).await?;
    let mut rewrite_usage = None;
    // Without a model, a vague follow-up stays on the previous question's material (see `followup`).
    let mut earlier_question = None;
    if matches!(found, Retrieved::NotCovered { .. }) {
        match llm {
            Some(llm) => {
                if let Some((question, used)) = followup::standalone_question(chat, llm.as_ref(), turn, cancel).await {
                    tracing::debug!(session_id = %turn.session.id, %question, "searching a follow-up as a standalone question");
                    rewrite_usage = used;
                    found = retrieve(chat, &turn.persona, &question).await?;
                }
            }
            None => {
                if let Some(question) = followup::earlier_question(chat, turn).await {
                    found = retrieve(chat, &turn.persona, &question).await?;
                    earlier_question = Some(question);
                }
            }
        }
    }
    let settings = &chat.backends.config.chat;
    let (answered_by, sources, stream): (_, _, ChatStream) = match (found, llm) {
        (Retrieved::NoMaterial, _) => ("not_covered", Vec::new(), canned(vec![prompt::NO_MATERIAL.to_owned()])),
        (Retrieved::NotCovered { unmatched }, _) => {
            ("not_covered", Vec::new(), canned(vec![prompt::not_covered(&unmatched)]))
        }
        (Retrieved::Sources { mut hits, measured, .. }, None) => {
            let embedder = chat.backends.embeddings.as_deref();
            let measured = measured.as_ref();
            let pieces = match &earlier_question {
                Some(question) => {
                    hits.truncate(1);
                    extractive::follow_up(question, &lead::choose(embedder, question, &hits, measured).await, &hits)
                }
                None => {
                    let lead = lead::choose(embedder, &turn.question.content, &hits, measured).await;
                    extractive::answer(&lead, &hits, settings.extractive_passages.max(1))
                }
            };
            ("extractive", hits, canned(pieces))
        }
        (Retrieved::Sources { hits, borderline, .. }, Some(llm)) => {
            let request = request(chat, turn, &hits, borderline).await?;
            ("model", hits, llm.stream(request))
        }
    };
    Ok(Plan { answered_by, sources, stream, rewrite_usage })
}

enum Retrieved {
    NoMaterial,
    /// `unmatched`: the words the material never uses that the question rests on, named in the answer.
    NotCovered {
        unmatched: Vec<String>,
    },
    /// `borderline`: the best hit is only loosely related; the model is told it may have to say "not covered".
    /// `measured`: its sentences, if the sentence gate compared them with the question.
    Sources {
        hits: Vec<SearchHit>,
        borderline: bool,
        measured: Option<lead::Measured>,
    },
}

/// Hybrid search over the persona's collections, gated by relevance.
///
/// With an embedding model the gate is twofold. The search's `relevance`: the cosine similarity of the question
/// with the nearest chunk or sentence window in the material, an absolute measure (unlike the fused rank score,
/// whose top is high in any collection, however unrelated, and highest in a small one). And its
/// `unmatched_weight`: how much of the question rests on words the material never uses (a question about
/// something the material does not cover is often otherwise on topic, so the cosine alone lets it through). A
/// borderline question is also compared with each sentence of the sources: none close means not covered.
/// Without a model, BM25 alone: any shared term passes.
async fn retrieve(chat: &ChatService, persona: &Persona, question: &str) -> Result<Retrieved, ChatError> {
    // No collections must not mean "every collection of the org" (what search does with an empty list).
    if persona.collection_ids.is_empty() {
        return Ok(Retrieved::NoMaterial);
    }
    let settings = &chat.backends.config.chat;
    let query: String = question.chars().take(2000).collect();
    let found = chat
        .ingest
        .search(persona.org_id, &persona.collection_ids, &query, settings.top_k.max(1))
        .await
        .map_err(|e| anyhow::Error::new(e).context("searching the persona's collections"))?;
    if found.results.is_empty() {
        return Ok(Retrieved::NotCovered { unmatched: Vec::new() });
    }
    if found.mode != "hybrid" {
        let covered = found.results[0].score >= settings.min_score_sparse;
        return Ok(if covered {
            Retrieved::Sources { hits: found.results, borderline: false, measured: None }
        } else {
            Retrieved::NotCovered { unmatched: Vec::new() }
        });
    }
    if found.unmatched_weight.is_some_and(|w| w >= settings.max_unmatched_weight) {
        return Ok(Retrieved::NotCovered { unmatched: found.unmatched });
    }
    // The nearest anything in the material comes, not only the returned hits: fusion may rank a keyword match
    // above the closest meaning.
    let best = found.relevance.unwrap_or(f32::MIN);
    if best < settings.min_relevance {
        return Ok(Retrieved::NotCovered { unmatched: Vec::new() });
    }
    let borderline = best < settings.borderline_relevance;
    // Only a borderline question pays for comparing it with each sentence (see `chat.min_sentence_relevance`).
    let mut measured = None;
    if borderline && let Some(embedder) = chat.backends.embeddings.as_deref() {
        measured = lead::measure(embedder, &query, &found.results).await;
        if let Some(closest) = measured.as_ref().map(lead::Measured::closest)
            && closest < settings.min_sentence_relevance
        {
            tracing::debug!(best, closest, "no sentence of the sources is close to the question");
            return Ok(Retrieved::NotCovered { unmatched: Vec::new() });
        }
    }
    Ok(Retrieved::Sources { hits: found.results, borderline, measured })
}

async fn request(
    chat: &ChatService,
    turn: &Turn,
    sources: &[SearchHit],
    borderline: bool,
) -> Result<ChatRequest, ChatError> {
    let session = &turn.session;
    let earlier =
        store::recent_before(&chat.backends.db, session.org_id, session.id, turn.question.id, HISTORY_ROWS).await?;
    let mut messages = vec![ChatMessage::system(prompt::system_prompt(&turn.persona, sources, borderline))];
    messages.extend(prompt::history(&earlier, chat.backends.config.chat.history_token_budget));
    messages.push(ChatMessage::user(&turn.question.content));
    Ok(ChatRequest {
        messages,
        model: turn.persona.model.clone(),
        temperature: Some(turn.persona.temperature as f32),
        max_tokens: Some(turn.persona.max_tokens),
    })
}
