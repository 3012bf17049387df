//! The chat domain's API: sessions and who may read and write them, the steps before a turn runs, and starting the
//! turn. The HTTP routes and the WebSocket both go through it.

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use super::cues::{Cue, CueAt};
use super::entities::{chat_message, chat_session};
use super::error::ChatError;
use super::hub::{ChatHub, Outbox, TurnGuard};
use super::store::{self, NewMessage};
use super::turn::{self, Turn, TurnResult};
use super::views::{ChatActivity, MessageView, ServerFrame, SessionFilter, SessionScope, SessionSummary};
use crate::auth::{AuthService, AuthUser, Role, UserData};
use crate::avatar::AvatarService;
use crate::billing::{BillingService, Quota};
use crate::classes::ClassService;
use crate::ingest::IngestService;
use crate::pagination::{Page, PageQuery};
use crate::persona::{Persona, PersonaService};
use crate::platform::Backends;

#[derive(Clone)]
pub struct ChatService {
    pub(super) backends: Backends,
    pub(super) hub: Arc<ChatHub>,
    pub(super) auth: AuthService,
    pub(super) ingest: IngestService,
    pub(super) avatars: AvatarService,
    personas: PersonaService,
    billing: BillingService,
    classes: ClassService,
}

/// The other domains chat asks.
pub struct Neighbours {
    pub auth: AuthService,
    pub ingest: IngestService,
    pub personas: PersonaService,
    pub avatars: AvatarService,
    pub billing: BillingService,
    pub classes: ClassService,
}

/// A question accepted: stored, and the session claimed for its answer.
pub struct Accepted {
    pub turn: Turn,
    pub guard: TurnGuard,
}

impl ChatService {
    pub fn new(backends: &Backends, hub: Arc<ChatHub>, neighbours: Neighbours) -> Self {
        let Neighbours { auth, ingest, personas, avatars, billing, classes } = neighbours;
        Self { backends: backends.clone(), hub, auth, ingest, avatars, personas, billing, classes }
    }

    /// Marks answers still `streaming` whose turn runs nowhere `interrupted`, keeping their partial text. A turn
    /// holds its session's lease while it streams (renewed by its replica), so a session that can be claimed has
    /// no live turn: its draft was left by a replica that died. Returns how many were marked.
    pub async fn sweep_interrupted(&self) -> Result<usize, ChatError> {
        let db = &self.backends.db;
        let mut marked = 0;
        for (id, session_id) in store::streaming_answers(db, 500).await? {
            let Some(guard) = self.hub.begin_turn(session_id, None).await else { continue };
            let done = store::mark_interrupted(db, id).await;
            guard.release().await;
            if done? {
                tracing::info!(message_id = %id, %session_id, "an answer cut off by a stopped server marked interrupted");
                marked += 1;
            }
        }
        Ok(marked)
    }

    /// Frames queued for one client before it counts as not reading.
    pub fn outbox_frames(&self) -> usize {
        self.backends.config.chat.ws_outbox_frames
    }

    async fn persona(&self, org_id: Uuid, id: Uuid) -> Result<Persona, ChatError> {
        Ok(self.personas.find(org_id, id).await?)
    }

    /// A new session of `caller` with the persona; its greeting, if any, is the first message.
    pub async fn create_session(&self, caller: &AuthUser, persona_id: Uuid) -> Result<chat_session::Model, ChatError> {
        let persona = self.persona(caller.org_id, persona_id).await?;
        let db = &self.backends.db;
        let session = store::insert_session(db, caller.org_id, persona.id, caller.user_id).await?;
        if !persona.greeting.is_empty() {
            let cues = serde_json::to_value([CueAt { cue: Cue::Greet, at_char: 0 }]).map_err(anyhow::Error::from)?;
            let greeting = NewMessage {
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
            };
            store::insert_message(db, greeting).await?;
        }
        self.backends.local_events.emit(&ChatActivity::SessionStarted {
            org_id: session.org_id,
            user_id: session.user_id,
            session_id: session.id,
            persona_id: session.persona_id,
            at: session.created_at,
        });
        Ok(session)
    }

    /// Sessions most recently active first: the caller's own, or with `scope=org` (staff only) every session of
    /// their org; narrowed by student, persona and dates.
    pub async fn list_sessions(
        &self,
        caller: &AuthUser,
        filter: &SessionFilter,
        page: &PageQuery,
    ) -> Result<Page<SessionSummary>, ChatError> {
        let (only, among) = match filter.scope.unwrap_or_default() {
            SessionScope::Mine => (Some(caller.user_id), None),
            SessionScope::Org if caller.role.at_least(Role::Teacher) => {
                (None, self.classes.readable_students(caller).await?)
            }
            SessionScope::Org => return Err(ChatError::StaffOnly),
        };
        let db = &self.backends.db;
        let (sessions, counts) = store::sessions_page(db, caller.org_id, only, among.as_deref(), filter, page).await?;
        let items = self.summaries(caller.org_id, sessions.items, &counts).await?;
        Ok(Page::of(items, page, sessions.total))
    }

    /// One session the caller may read, as lists show it.
    pub async fn session(&self, caller: &AuthUser, id: Uuid) -> Result<SessionSummary, ChatError> {
        let session = self.readable(caller, id).await?;
        let counts = store::message_counts(&self.backends.db, session.org_id, &[session.id]).await?;
        let mut one = self.summaries(caller.org_id, vec![session], &counts).await?;
        one.pop().ok_or(ChatError::NotFound("session"))
    }

    /// Sessions with their student's and persona's names, asked of the auth and persona domains in one go each.
    async fn summaries(
        &self,
        org_id: Uuid,
        sessions: Vec<chat_session::Model>,
        counts: &HashMap<Uuid, u64>,
    ) -> Result<Vec<SessionSummary>, ChatError> {
        let users: Vec<Uuid> = sessions.iter().map(|s| s.user_id).collect();
        let personas: Vec<Uuid> = sessions.iter().map(|s| s.persona_id).collect();
        let user_names = self.auth.names(org_id, &users).await.map_err(anyhow::Error::new)?;
        let persona_names = self.personas.names(org_id, &personas).await?;
        Ok(sessions
            .into_iter()
            .map(|s| SessionSummary {
                id: s.id,
                persona_id: s.persona_id,
                persona_name: persona_names.get(&s.persona_id).cloned(),
                user_id: s.user_id,
                user_name: user_names.get(&s.user_id).cloned(),
                title: s.title,
                message_count: counts.get(&s.id).copied().unwrap_or(0),
                created_at: s.created_at,
                updated_at: s.updated_at,
            })
            .collect())
    }

    /// A session the caller may read: their own; for admins any of the org's, for teachers their classes'
    /// students' (staff watch, never write). Anything else is not found, so nobody can tell another's session
    /// from a missing one.
    pub async fn readable(&self, caller: &AuthUser, id: Uuid) -> Result<chat_session::Model, ChatError> {
        let session =
            store::find_session(&self.backends.db, caller.org_id, id).await?.ok_or(ChatError::NotFound("session"))?;
        if session.user_id == caller.user_id {
            return Ok(session);
        }
        if caller.role.at_least(Role::Teacher) {
            match self.classes.readable_students(caller).await? {
                None => return Ok(session),
                Some(students) if students.contains(&session.user_id) => return Ok(session),
                Some(_) => {}
            }
        }
        Err(ChatError::NotFound("session"))
    }

    /// One page of a readable session's messages, oldest first.
    pub async fn messages(
        &self,
        caller: &AuthUser,
        session_id: Uuid,
        page: &PageQuery,
    ) -> Result<Page<MessageView>, ChatError> {
        let session = self.readable(caller, session_id).await?;
        Ok(store::messages_page(&self.backends.db, session.org_id, session.id, page).await?)
    }

    /// What a (re)opened session shows: everything after `last_seen` (or the last `limit` messages).
    pub async fn history(
        &self,
        session: &chat_session::Model,
        last_seen: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<MessageView>, ChatError> {
        let rows = store::messages_after(&self.backends.db, session.org_id, session.id, last_seen, limit).await?;
        Ok(rows.into_iter().map(MessageView::from).collect())
    }

    /// Checks and stores the student's question before anything calls the model, and claims the session for its
    /// answer. `origin` is the WebSocket connection that asked, if any.
    pub async fn accept(
        &self,
        caller: &AuthUser,
        session: chat_session::Model,
        content: &str,
        origin: Option<Uuid>,
    ) -> Result<Accepted, ChatError> {
        ensure_owner(caller, &session)?;
        let max = self.backends.config.chat.max_message_chars;
        if content.trim().is_empty() || content.chars().count() > max {
            return Err(ChatError::Invalid(format!("content must be 1 to {max} characters")));
        }
        let content = content.trim();
        let persona = self.persona(session.org_id, session.persona_id).await?;
        let guard = self.hub.begin_turn(session.id, origin).await.ok_or(ChatError::TurnInProgress)?;
        // Counted once the turn is ours: a refused second turn does not use up the month's messages.
        self.billing.reserve(session.org_id, Some(caller.user_id), Quota::Messages).await?;
        let question: chat_message::Model = store::insert_message(
            &self.backends.db,
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
        store::set_title(&self.backends.db, &session, content).await?;
        self.backends.local_events.emit(&ChatActivity::MessageSent {
            org_id: session.org_id,
            user_id: session.user_id,
            session_id: session.id,
            persona_id: session.persona_id,
            message_id: question.id,
            text: question.content.clone(),
            at: question.created_at,
        });
        Ok(Accepted { turn: Turn { session, persona, question, origin }, guard })
    }

    /// Runs an accepted turn to its end, streaming its frames to `outbox`.
    pub async fn answer(&self, accepted: Accepted, outbox: &Outbox) -> Result<TurnResult, ChatError> {
        let Accepted { turn, guard } = accepted;
        turn::run(self, &turn, outbox, guard).await
    }

    /// Runs an accepted turn in the background; a failure before the answer starts reaches `outbox` as an `error`.
    pub fn answer_in_background(&self, accepted: Accepted, outbox: Outbox) {
        let chat = self.clone();
        tokio::spawn(async move {
            if let Err(err) = chat.answer(accepted, &outbox).await {
                outbox.frame(&ServerFrame::error(err.code(), err.api().message));
            }
        });
    }
}

/// A student's conversations are personal data: they go with the student.
#[async_trait::async_trait]
impl UserData for ChatService {
    async fn erase_user(&self, org_id: Uuid, user_id: Uuid) -> anyhow::Result<()> {
        let sessions = store::delete_sessions_of(&self.backends.db, org_id, user_id).await?;
        tracing::info!(%user_id, sessions, "deleted a user's chat sessions");
        Ok(())
    }
}

/// Only the session's student asks in it; staff who can read it may not write in it.
pub fn ensure_owner(caller: &AuthUser, session: &chat_session::Model) -> Result<(), ChatError> {
    if session.user_id == caller.user_id { Ok(()) } else { Err(ChatError::NotOwner) }
}
