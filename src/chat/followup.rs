//! Follow-up questions. "Can you say that more simply?" names nothing a search can find: what it is about is in
//! the conversation. When a question alone finds nothing relevant, reads as a follow-up ([`points_back`]: short,
//! and pointing back with "it", "that", "again", "more simply", "an example", or opening with "and", "what
//! about") and a model is configured, the model rewrites it as a standalone question from the recent turns, and
//! that is searched instead. Only then: a question that finds its material by itself, or names a subject of its
//! own, costs no extra model call (so a gated question never reaches the model), and one about something the
//! material does not cover still finds nothing after the rewrite.
//!
//! Without a model there is no rewrite. A question that finds nothing by itself and reads as a follow-up stays on
//! the previous question's material: the extractive tutor quotes what answered that one again, and says so. Any other question that
//! finds nothing is "not covered", rather than quote the wrong thing.

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::service::ChatService;
use super::turn::Turn;
use super::{prompt, store};
use crate::platform::llm::chat::{ChatEvent, ChatMessage, ChatProvider, ChatRequest, ChatRole, TokenUsage};

/// Earlier messages the rewrite reads, and at most this many tokens of them.
const HISTORY_ROWS: u64 = 6;
const HISTORY_TOKENS: usize = 600;
/// A rewritten question longer than this is not a question any more (the model answered instead): not used.
const MAX_CHARS: usize = 500;

const INSTRUCTIONS: &str = "You turn a student's latest message into a standalone question for searching \
    course material. Use the conversation to replace words like \"it\", \"that\" or \"again\" with what they refer \
    to. Keep the student's language. Reply with the question only: no answer, no explanation, no quotes.";

/// The student's question rewritten to stand alone, with the tokens the rewrite used; `None` when there is no
/// earlier conversation, or the model fails, is cancelled, or answers with something unusable.
pub async fn standalone_question(
    chat: &ChatService,
    llm: &dyn ChatProvider,
    turn: &Turn,
    cancel: &CancellationToken,
) -> Option<(String, Option<TokenUsage>)> {
    // A question that names its own subject is searched as asked: rewriting it would only cost a model call.
    let earlier = earlier_messages(chat, turn).await?;
    let history = prompt::history(&earlier, HISTORY_TOKENS);
    // A greeting alone is no conversation to resolve the question against.
    if !history.iter().any(|m| m.role == ChatRole::User) {
        return None;
    }
    let mut messages = vec![ChatMessage::system(INSTRUCTIONS)];
    messages.extend(history);
    messages.push(ChatMessage::user(format!("Latest message: {}", turn.question.content)));
    let request =
        ChatRequest { messages, model: turn.persona.model.clone(), temperature: Some(0.0), max_tokens: Some(100) };
    let mut stream = llm.stream(request);
    let (mut text, mut usage) = (String::new(), None);
    loop {
        let event = tokio::select! {
            biased;
            () = cancel.cancelled() => return None,
            event = stream.next() => event,
        };
        match event {
            Some(Ok(ChatEvent::Delta(delta))) => text.push_str(&delta),
            Some(Ok(ChatEvent::Usage(u))) => usage = Some(u),
            Some(Ok(ChatEvent::Done { .. })) | None => break,
            Some(Err(err)) => {
                tracing::warn!(error = %err, "rewriting a follow-up question; searching it as asked");
                return None;
            }
        }
    }
    let question = text.trim().trim_matches(['"', '\'', '“', '”']).trim();
    (!question.is_empty() && question.chars().count() <= MAX_CHARS).then(|| (question.to_owned(), usage))
}

/// Words that point back at the conversation; a short question with one of them is a follow-up.
const POINTING_BACK: &[&str] = &[
    "it",
    "that",
    "this",
    "these",
    "those",
    "them",
    "again",
    "more",
    "simpler",
    "simply",
    "example",
    "examples",
    "mean",
    "means",
    "why",
    "elaborate",
    "explain",
    "rephrase",
    "understand",
];
/// Longest question, in words, read as a follow-up: a longer one says what it is about.
const FOLLOW_UP_WORDS: usize = 12;

/// Openings that continue the conversation ("and in France?", "what about ...").
const CONTINUING: &[&str] = &["and", "so", "but", "also", "what about", "how about"];

/// Whether `question` reads as a follow-up to the conversation rather than a question of its own.
pub fn points_back(question: &str) -> bool {
    let words: Vec<String> = question
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let opening = words.iter().take(2).cloned().collect::<Vec<_>>().join(" ");
    let continues = CONTINUING.iter().any(|c| opening == *c || opening.starts_with(&format!("{c} ")));
    !words.is_empty()
        && words.len() <= FOLLOW_UP_WORDS
        && (continues || words.iter().any(|w| POINTING_BACK.contains(&w.as_str())))
}

/// The student's previous question in the session, when this one reads as a follow-up of it.
pub async fn earlier_question(chat: &ChatService, turn: &Turn) -> Option<String> {
    let earlier = earlier_messages(chat, turn).await?;
    earlier.into_iter().find(|m| m.role == "user").map(|m| m.content)
}

/// The session's recent messages before this turn's question, newest first, when the question is a follow-up.
async fn earlier_messages(chat: &ChatService, turn: &Turn) -> Option<Vec<store::HistoryRow>> {
    if !points_back(&turn.question.content) {
        return None;
    }
    store::recent_before(&chat.backends.db, turn.session.org_id, turn.session.id, turn.question.id, HISTORY_ROWS)
        .await
        .inspect_err(|err| tracing::warn!(error = ?err, "reading history for a follow-up"))
        .ok()
}

/// Both calls' tokens, when either was counted.
pub fn add_usage(a: Option<TokenUsage>, b: Option<TokenUsage>) -> Option<TokenUsage> {
    match (a, b) {
        (Some(a), Some(b)) => Some(TokenUsage {
            prompt_tokens: a.prompt_tokens + b.prompt_tokens,
            completion_tokens: a.completion_tokens + b.completion_tokens,
            total_tokens: a.total_tokens + b.total_tokens,
        }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::points_back;

    #[test]
    fn follow_ups_are_short_and_point_back() {
        assert!(points_back("Can you say that more simply?"));
        assert!(points_back("why?"));
        assert!(points_back("Give me an example"));
        assert!(!points_back("What is the capital of France?"), "names its own subject");
        assert!(points_back("And what about France's capital?"));
        assert!(!points_back("Andrew asked how volcanoes erupt?"), "a word that starts like an opening is no opening");
        assert!(!points_back(""));
        assert!(!points_back(
            "How does that work when the list holds tuples of strings and numbers that are all different lengths?"
        ));
    }
}
