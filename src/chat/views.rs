//! What goes over the wire: sessions, messages, citations, and the frames shared by the WebSocket and SSE.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::cues::{Cue, CueAt};
use super::entities::{chat_message, chat_session};
use crate::platform::llm::chat::TokenUsage;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub persona_id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// The last message's time: lists are sorted by it, newest first.
    pub updated_at: DateTime<Utc>,
}

impl From<&chat_session::Model> for SessionView {
    fn from(s: &chat_session::Model) -> Self {
        Self {
            id: s.id,
            persona_id: s.persona_id,
            user_id: s.user_id,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A source the answer drew on. `index` is the `[n]` the answer cites it by.
/// Whose sessions `GET /sessions` lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionScope {
    /// The caller's own.
    #[default]
    Mine,
    /// Every session of the caller's organisation (teachers and admins).
    Org,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionFilter {
    /// `mine` (default) or `org` (teachers and admins: every conversation of the org that has begun, i.e. has a
    /// first question).
    #[param(inline)]
    pub scope: Option<SessionScope>,
    /// Only this person's sessions.
    pub user_id: Option<Uuid>,
    /// Only sessions with this persona.
    pub persona_id: Option<Uuid>,
    /// Only sessions active at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only sessions active before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// A session as a list shows it: who, with which tutor, about what, how long.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionSummary {
    pub id: Uuid,
    pub persona_id: Uuid,
    /// Absent when the persona was deleted.
    pub persona_name: Option<String>,
    pub user_id: Uuid,
    /// Absent when the account was deleted.
    pub user_name: Option<String>,
    /// The start of the student's first question; absent before it.
    pub title: Option<String>,
    pub message_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Citation {
    pub index: usize,
    pub document_id: Uuid,
    pub document_name: String,
    pub page: Option<i32>,
    pub slide: Option<i32>,
    /// Audio and video: where the passage is spoken.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// The passage's place in the document's outline, e.g. `Unit 2 > Photosynthesis` (empty when it has none).
    #[serde(default)]
    pub heading_path: String,
    /// The cited passage, for `GET /documents/{id}/content?chunk_id=` (absent in answers stored before it was
    /// recorded).
    #[serde(default)]
    pub chunk_id: Option<Uuid>,
    pub snippet: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    /// UUIDv7: ids sort in the order messages were written.
    pub id: Uuid,
    pub session_id: Uuid,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    /// `complete`; `cancelled` (the student stopped it: the partial text is kept); `failed` (the model failed:
    /// partial text, and `error_code`); `streaming` (a model's answer being written: the text saved so far);
    /// `interrupted` (the server stopped while writing it: the partial text, `error_code` `llm_interrupted`).
    pub status: String,
    /// Answers: `model`, `extractive` (no model configured: quoted passages) or `not_covered` (nothing relevant in
    /// the material). Questions: `student`.
    pub answered_by: String,
    pub citations: Vec<Citation>,
    pub cues: Vec<CueAt>,
    pub usage: Option<TokenUsage>,
    pub latency_ms: Option<i64>,
    pub error_code: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A stored JSON column; a value that no longer parses reads as absent rather than failing the whole history.
fn parse<T: serde::de::DeserializeOwned>(value: Option<serde_json::Value>) -> Option<T> {
    value.and_then(|v| serde_json::from_value(v).ok())
}

impl From<chat_message::Model> for MessageView {
    fn from(m: chat_message::Model) -> Self {
        Self {
            id: m.id,
            session_id: m.session_id,
            role: m.role,
            content: m.content,
            status: m.status,
            answered_by: m.answered_by,
            citations: parse(m.citations).unwrap_or_default(),
            cues: parse(m.cues).unwrap_or_default(),
            usage: parse(m.usage),
            latency_ms: m.latency_ms,
            error_code: m.error_code,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SendMessage {
    /// The student's question, 1 to `chat.max_message_chars` characters.
    pub content: String,
}

/// `POST /sessions/{id}/messages` without `Accept: text/event-stream`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TurnView {
    /// The answer.
    pub message: MessageView,
    pub citations: Vec<Citation>,
    pub cues: Vec<CueAt>,
    pub usage: Option<TokenUsage>,
}

/// One Server-Sent Event of an answer streamed over HTTP (`Accept: text/event-stream`), as a client's SSE parser
/// sees it: the event is the frame's `type`, the data the frame.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the stream; the handler writes the lines itself
pub struct FrameSse {
    #[schema(example = "answer.delta")]
    pub event: String,
    /// A `ServerFrame`, as JSON.
    pub data: String,
}

/// Frames the server sends, on the WebSocket and (from `message.accepted` on) as SSE events of the same name. The
/// `type` field names the frame.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type")]
pub enum ServerFrame {
    /// The connection's credentials were replaced by an `auth` frame's; they now expire at `expires_at`.
    #[serde(rename = "auth.ok")]
    AuthOk { expires_at: i64 },
    /// Answers `session.open`: the session and its history (everything after `last_seen_message_id`, or the
    /// last 200 messages).
    #[serde(rename = "session.ready")]
    SessionReady { session: SessionView, history: Vec<MessageView> },
    /// The question is stored (`client_id` echoes the client's own id for it).
    #[serde(rename = "message.accepted")]
    MessageAccepted { client_id: Option<String>, message_id: Uuid },
    /// The next piece of the answer's visible text.
    #[serde(rename = "answer.delta")]
    AnswerDelta { message_id: Uuid, text: String },
    /// A source the answer cited, after its last delta.
    #[serde(rename = "answer.citation")]
    AnswerCitation {
        message_id: Uuid,
        #[serde(flatten)]
        citation: Citation,
    },
    /// What the avatar acts out from character `at_char` of the answer; `clip` is the avatar's clip for it.
    #[serde(rename = "avatar.cue")]
    AvatarCue { message_id: Uuid, cue: Cue, clip: Option<String>, at_char: usize },
    /// The answer ended: `status` is `complete` or `cancelled`.
    #[serde(rename = "answer.done")]
    AnswerDone { message_id: Uuid, usage: Option<TokenUsage>, latency_ms: u64, status: String },
    /// Someone else on the session is typing.
    #[serde(rename = "typing")]
    Typing { session_id: Uuid, user_id: Uuid },
    /// A frame was refused, or a turn failed (then `message_id` names the failed answer).
    #[serde(rename = "error")]
    Error {
        code: String,
        message: String,
        /// The answer the error ended, when it ended one.
        #[serde(skip_serializing_if = "Option::is_none")]
        message_id: Option<Uuid>,
        /// As in the HTTP error body (`quota_exceeded`: which limit, the usage and the limit).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        details: Option<serde_json::Value>,
    },
    /// Answers `ping`.
    #[serde(rename = "pong")]
    Pong,
    /// Progress of a document the connection's user uploaded (the fields of the SSE `document` event).
    #[serde(rename = "document.progress")]
    DocumentProgress(crate::ingest::views::DocumentEvent),
}

impl ServerFrame {
    pub fn event(&self) -> &'static str {
        match self {
            Self::SessionReady { .. } => "session.ready",
            Self::MessageAccepted { .. } => "message.accepted",
            Self::AnswerDelta { .. } => "answer.delta",
            Self::AnswerCitation { .. } => "answer.citation",
            Self::AvatarCue { .. } => "avatar.cue",
            Self::AnswerDone { .. } => "answer.done",
            Self::Typing { .. } => "typing",
            Self::Error { .. } => "error",
            Self::Pong => "pong",
            Self::AuthOk { .. } => "auth.ok",
            Self::DocumentProgress(_) => "document.progress",
        }
    }

    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Self::Error { code: code.to_owned(), message: message.into(), message_id: None, details: None }
    }

    /// An API error as a frame, its details included.
    pub fn api_error(api: &crate::error::ApiError) -> Self {
        Self::Error {
            code: api.code.to_owned(),
            message: api.message.clone(),
            message_id: None,
            details: api.details.as_deref().cloned(),
        }
    }
}

/// Frames a WebSocket client sends; the `type` field names the frame.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum ClientFrame {
    /// Opens a session: an existing one (`session_id`, with `last_seen_message_id` to resume), or a new one with
    /// `persona_id`. Answered by `session.ready`.
    #[serde(rename = "session.open")]
    SessionOpen { persona_id: Option<Uuid>, session_id: Option<Uuid>, last_seen_message_id: Option<Uuid> },
    /// Asks the tutor in an open session (the student who owns it only). Answered by `message.accepted`, then the
    /// answer's frames.
    #[serde(rename = "message.send")]
    MessageSend {
        session_id: Uuid,
        content: String,
        /// The client's own id for the question, echoed in `message.accepted`; at most 100 characters.
        #[schema(max_length = 100)]
        client_id: Option<String>,
    },
    /// Tells the session's other watchers the sender is typing.
    #[serde(rename = "typing")]
    Typing { session_id: Uuid },
    /// Stops the session's running answer; what was written is kept as `cancelled`.
    #[serde(rename = "message.cancel")]
    MessageCancel { session_id: Uuid },
    /// Answered by `pong`.
    #[serde(rename = "ping")]
    Ping,
    /// A fresh access token of the same person, before the connection's one expires.
    #[serde(rename = "auth")]
    Auth { token: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_type_and_flatten_citations() {
        let id = Uuid::nil();
        let citation = Citation {
            index: 2,
            document_id: id,
            document_name: "notes.txt".into(),
            page: Some(3),
            slide: None,
            start_ms: None,
            end_ms: None,
            heading_path: String::new(),
            chunk_id: None,
            snippet: "x".into(),
        };
        let json = serde_json::to_value(ServerFrame::AnswerCitation { message_id: id, citation }).unwrap();
        assert_eq!(json["type"], "answer.citation");
        assert_eq!(json["index"], 2);
        assert_eq!(json["page"], 3);
        assert_eq!(serde_json::to_value(ServerFrame::Pong).unwrap(), serde_json::json!({"type": "pong"}));
        let frame: ClientFrame = serde_json::from_str(
            r#"{"type":"message.send","session_id":"00000000-0000-0000-0000-000000000000","content":"hi"}"#,
        )
        .unwrap();
        assert!(matches!(frame, ClientFrame::MessageSend { client_id: None, .. }));
    }
}

/// What happened in a conversation, emitted in this process for analytics (see `platform::events`): recorded
/// once, off the turn's path.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatActivity {
    SessionStarted {
        org_id: Uuid,
        user_id: Uuid,
        session_id: Uuid,
        persona_id: Uuid,
        at: DateTime<Utc>,
    },
    MessageSent {
        org_id: Uuid,
        user_id: Uuid,
        session_id: Uuid,
        persona_id: Uuid,
        message_id: Uuid,
        text: String,
        at: DateTime<Utc>,
    },
    AnswerCompleted {
        org_id: Uuid,
        /// The student who asked.
        user_id: Uuid,
        session_id: Uuid,
        persona_id: Uuid,
        question_id: Uuid,
        message_id: Uuid,
        /// `model`, `extractive` or `not_covered`.
        answered_by: String,
        /// `complete`, `cancelled` or `failed`.
        status: String,
        latency_ms: u64,
        tokens: Option<u32>,
        /// The documents the answer cited, each once.
        documents: Vec<Uuid>,
        at: DateTime<Utc>,
    },
}

impl crate::platform::events::Event for ChatActivity {
    const TOPIC: &'static str = "chat-activity";
}
