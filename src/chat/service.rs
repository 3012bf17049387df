//! Sessions and questions: who may read and write which session, and the steps before a turn runs.

use uuid::Uuid;

use super::cues::{Cue, CueAt};
use super::entities::{chat_message, chat_session};
use super::error::ChatError;
use super::hub::TurnGuard;
use super::store::{self, NewMessage};
use super::turn::Turn;
use crate::app::AppState;
use crate::auth::{AuthUser, Role};
use crate::persona::Persona;

/// A new session of `caller` with the persona; its greeting, if any, is the first message.
pub async fn create_session(
    state: &AppState,
    caller: &AuthUser,
    persona_id: Uuid,
) -> Result<chat_session::Model, ChatError> {
    let persona = crate::persona::service::find(state, caller.org_id, persona_id).await?;
    let session = store::insert_session(&state.db, caller.org_id, persona.id, caller.user_id).await?;
    if !persona.greeting.is_empty() {
        let cues = serde_json::to_value([CueAt { cue: Cue::Greet, at_char: 0 }]).map_err(anyhow::Error::from)?;
        store::insert_message(
            &state.db,
            NewMessage {
                id: Uuid::now_v7(),
                org_id: caller.org_id,
                session_id: session.id,
                role: "assistant",
                content: persona.greeting.clone(),
                status: "complete",
                answered_by: "greeting",
                citations: None,
                cues: Some(cues),
                usage: None,
                latency_ms: None,
                error_code: None,
            },
        )
        .await?;
    }
    Ok(session)
}

/// A session the caller may read: their own, or any of the org's for teachers and admins (who watch). Anything
/// else is not found, so a student cannot tell another student's session from a missing one.
pub async fn readable(state: &AppState, caller: &AuthUser, id: Uuid) -> Result<chat_session::Model, ChatError> {
    let session = store::find_session(&state.db, caller.org_id, id).await?.ok_or(ChatError::NotFound("session"))?;
    if session.user_id == caller.user_id || caller.role.at_least(Role::Teacher) {
        Ok(session)
    } else {
        Err(ChatError::NotFound("session"))
    }
}

/// Only the session's student asks in it; staff who can read it may not write in it.
pub fn ensure_owner(caller: &AuthUser, session: &chat_session::Model) -> Result<(), ChatError> {
    if session.user_id == caller.user_id { Ok(()) } else { Err(ChatError::NotOwner) }
}

/// A question accepted: stored, and the session claimed for its answer.
pub struct Accepted {
    pub turn: Turn,
    pub guard: TurnGuard,
}

/// Checks and stores the student's question before anything calls the model.
pub async fn accept(
    state: &AppState,
    caller: &AuthUser,
    session: chat_session::Model,
    content: &str,
    origin: Option<Uuid>,
) -> Result<Accepted, ChatError> {
    ensure_owner(caller, &session)?;
    let content = content.trim();
    let max = state.settings.chat.max_message_chars;
    if content.is_empty() || content.chars().count() > max {
        return Err(ChatError::Invalid(format!("content must be 1 to {max} characters")));
    }
    let persona: Persona = crate::persona::service::find(state, session.org_id, session.persona_id).await?;
    let guard = state.chat.begin_turn(session.id, origin).await.ok_or(ChatError::TurnInProgress)?;
    let question: chat_message::Model = store::insert_message(
        &state.db,
        NewMessage {
            id: Uuid::now_v7(),
            org_id: session.org_id,
            session_id: session.id,
            role: "user",
            content: content.to_owned(),
            status: "complete",
            answered_by: "student",
            citations: None,
            cues: None,
            usage: None,
            latency_ms: None,
            error_code: None,
        },
    )
    .await?;
    Ok(Accepted { turn: Turn { session, persona, question, origin }, guard })
}
