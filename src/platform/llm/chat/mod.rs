//! Chat completion, behind one trait: a request goes in, a stream of events comes out.
//!
//! [`OpenAiChat`] speaks the OpenAI-compatible `/chat/completions` streaming protocol, so OpenAI, Gemini's
//! OpenAI-compatible endpoint, Ollama, vLLM and the llama.cpp server all work through it. When no endpoint is
//! configured the app has no provider at all (`AppState::llm` is `None`) and the chat layer answers with the
//! extractive tutor; nothing silently falls back to a fake.
//!
//! The stream's contract, which the chat layer relies on to turn events into frames:
//! - zero or more [`ChatEvent::Delta`], then at most one [`ChatEvent::Usage`], then exactly one
//!   [`ChatEvent::Done`] as the last item; or
//! - a [`ChatError`] as the last item, at any point. Nothing follows an error.
//!
//! Dropping the stream cancels the upstream HTTP request (the connection is closed), so a student who cancels or
//! disconnects stops the model from generating, and paying for, the rest of the answer.

mod openai;
mod stream;
mod upstream;

use std::pin::Pin;
use std::time::Duration;

use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use openai::{MaxTokensParam, OpenAiChat, OpenAiChatConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: ChatRole::System, content: content.into() }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self { role: ChatRole::User, content: content.into() }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: ChatRole::Assistant, content: content.into() }
    }
}

/// One completion request. `None` settings leave the choice to the provider: its configured default model, the
/// endpoint's own temperature and length limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub model: Option<String>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

/// Token counts as the endpoint reported them for the whole request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// The next piece of the answer's text, never empty.
    Delta(String),
    /// Sent once, near the end, when the endpoint reports usage (OpenAI-compatible servers do when asked with
    /// `stream_options.include_usage`; a server that ignores the option sends none).
    Usage(TokenUsage),
    /// The answer is complete. `finish_reason` is the endpoint's: `stop`, or `length` when `max_tokens` cut it.
    Done { finish_reason: String },
}

pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, ChatError>> + Send>>;

/// A chat model behind some API. Cheap to share (`Arc<dyn ChatProvider>`) and safe to call concurrently.
pub trait ChatProvider: Send + Sync + 'static {
    /// The model used when a request names none.
    fn default_model(&self) -> &str;

    /// Starts a completion. Nothing is sent until the stream is first polled; see the module docs for the
    /// events' order, and dropping the stream cancels the request.
    fn stream(&self, request: ChatRequest) -> ChatStream;
}

/// Stable error kinds, for the chat layer to turn into `error` frames with a fixed `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatErrorKind {
    /// No HTTP answer: connection refused, DNS failure, connect timeout, reset before the response.
    Connect,
    /// Connected, but no first token (or, mid-answer, no next chunk) within the configured time.
    Timeout,
    /// The endpoint answered with a non-success status (bad key, unknown model, rate limit, server error).
    Upstream,
    /// The stream started and then broke: reset, malformed chunk, an error event, or an end without a finish.
    Interrupted,
    /// The request itself cannot be sent (no messages, a value out of range).
    InvalidRequest,
}

impl ChatErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::Connect => "llm_unreachable",
            Self::Timeout => "llm_timeout",
            Self::Upstream => "llm_upstream_error",
            Self::Interrupted => "llm_interrupted",
            Self::InvalidRequest => "llm_invalid_request",
        }
    }

    /// Words for a student. The error's own text may quote the endpoint (and, for a bad key, part of it): log
    /// that, show this.
    pub fn public_message(self) -> &'static str {
        match self {
            Self::Connect => "the tutor's language model is unreachable; try again shortly",
            Self::Timeout => "the tutor's language model took too long to answer; try again",
            Self::Upstream => "the tutor's language model refused the request; tell your teacher if it persists",
            Self::Interrupted => "the tutor's answer was cut off; try again",
            Self::InvalidRequest => "the tutor could not build a request for its language model",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChatError {
    #[error("the chat endpoint could not be reached: {0}")]
    Connect(String),
    #[error("the chat endpoint sent nothing for {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("the chat endpoint answered HTTP {status}: {message}")]
    Upstream { status: u16, message: String },
    #[error("the chat stream broke off: {0}")]
    Interrupted(String),
    #[error("invalid chat request: {0}")]
    InvalidRequest(String),
}

impl ChatError {
    pub fn kind(&self) -> ChatErrorKind {
        match self {
            Self::Connect(_) => ChatErrorKind::Connect,
            Self::Timeout(_) => ChatErrorKind::Timeout,
            Self::Upstream { .. } => ChatErrorKind::Upstream,
            Self::Interrupted(_) => ChatErrorKind::Interrupted,
            Self::InvalidRequest(_) => ChatErrorKind::InvalidRequest,
        }
    }

    pub fn code(&self) -> &'static str {
        self.kind().code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_stable_code_and_a_public_message() {
        let errors = [
            ChatError::Connect("refused".into()),
            ChatError::Timeout(Duration::from_secs(1)),
            ChatError::Upstream { status: 500, message: "boom".into() },
            ChatError::Interrupted("reset".into()),
            ChatError::InvalidRequest("no messages".into()),
        ];
        let codes: Vec<_> = errors.iter().map(ChatError::code).collect();
        assert_eq!(
            codes,
            ["llm_unreachable", "llm_timeout", "llm_upstream_error", "llm_interrupted", "llm_invalid_request"]
        );
        for error in &errors {
            assert!(!error.kind().public_message().contains("boom"));
        }
    }

    #[test]
    fn messages_serialise_with_lowercase_roles() {
        let json = serde_json::to_value(ChatMessage::assistant("hi")).unwrap();
        assert_eq!(json, serde_json::json!({"role": "assistant", "content": "hi"}));
    }
}
