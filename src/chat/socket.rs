//! One chat WebSocket connection: one task reads the client's frames, one writes the connection's bounded outbox.
//!
//! Close codes: 1000 after the client's close, 1001 on the idle timeout, 1008 when the outbox overflows (the
//! client stopped reading), 1009 for a frame over `chat.ws_max_frame_bytes`, 1002 for a broken frame, and 4401
//! when the access token the connection runs on expires (a client keeps it open by sending `auth` with a fresh
//! token before then; or it reconnects and resumes with `last_seen_message_id`) or when the credential stops
//! holding: the person's access changed (a role, a deactivation, a deletion, a sign-out everywhere) or the API key
//! was revoked, on any replica.
//!
//! A read-only API key may watch (open existing sessions), not write; every frame counts against the caller's
//! per-user and per-org API limits, like an HTTP call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError, Session};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::entities::chat_session;
use super::error::ChatError;
use super::hub::{Outbox, Outgoing};
use super::service::{self, ChatService};
use super::views::{ClientFrame, ServerFrame, SessionView};
use crate::auth::{AuthError, AuthUser, Credential};

/// The longest `client_id` echoed back (it is the client's, not stored).
const CLIENT_ID_MAX: usize = 100;
/// Messages sent on `session.open` without `last_seen_message_id`, and at most after it.
const HISTORY_LIMIT: u64 = 200;
/// The close code when the connection's access token expires (401, in the range for applications).
const TOKEN_EXPIRED: u16 = 4401;
/// Outbox marker for a heartbeat ping, sent by the writer as a WebSocket ping, never as text.
const PING: &str = "__ping";

pub struct Connection {
    id: Uuid,
    chat: ChatService,
    caller: AuthUser,
    outbox: Outbox,
    rx: Option<mpsc::Receiver<Outgoing>>,
    open: HashMap<Uuid, chat_session::Model>,
}

impl Connection {
    pub fn new(chat: ChatService, caller: AuthUser) -> Self {
        let (outbox, rx) = Outbox::new(chat.outbox_frames());
        Self { id: Uuid::new_v4(), chat, caller, outbox, rx: Some(rx), open: HashMap::new() }
    }

    pub async fn run(mut self, mut session: Session, mut stream: actix_ws::AggregatedMessageStream) {
        let settings = self.chat.backends.config.chat.clone();
        let Some(rx) = self.rx.take() else { return };
        self.chat.hub.watch_user(self.caller.user_id, self.id, self.outbox.clone());
        let recheck = Arc::new(Notify::new());
        self.chat.hub.watch_access(self.id, self.caller.user_id, self.key_id(), recheck.clone());
        // A key's socket also re-checks its key now and then, in case the revocation's event was lost.
        let every_recheck = Duration::from_secs(settings.ws_recheck_secs.max(1));
        let mut key_check = tokio::time::interval_at(tokio::time::Instant::now() + every_recheck, every_recheck);
        let writer = actix_web::rt::spawn(write(session.clone(), rx, self.outbox.overflowed().clone()));
        let idle = Duration::from_secs(settings.ws_idle_timeout_secs.max(1));
        let every = Duration::from_secs(settings.ws_heartbeat_secs.max(1));
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut heard = Instant::now();
        let mut bucket = Bucket::new(settings.ws_rate_per_sec, settings.ws_rate_burst);
        let overflow = self.outbox.overflowed().clone();
        let mut expiry = Box::pin(tokio::time::sleep(until_expiry(&self.caller)));
        let close: Option<CloseReason> = loop {
            let message = tokio::select! {
                () = overflow.cancelled() => break None, // the writer closes with 1008
                () = &mut expiry => break Some(reason(CloseCode::Other(TOKEN_EXPIRED), "token expired")),
                () = recheck.notified() => {
                    match self.recheck().await {
                        Some(close) => break Some(close),
                        None => continue,
                    }
                }
                _ = key_check.tick(), if self.key_id().is_some() => {
                    match self.recheck().await {
                        Some(close) => break Some(close),
                        None => continue,
                    }
                }
                _ = heartbeat.tick() => {
                    if heard.elapsed() >= idle {
                        break Some(reason(CloseCode::Away, "idle timeout"));
                    }
                    self.outbox.push(Outgoing { event: PING, json: "".into() });
                    continue;
                }
                message = stream.recv() => message,
            };
            match message {
                None => break None,
                Some(Err(ProtocolError::Overflow)) => break Some(reason(CloseCode::Size, "frame too large")),
                Some(Err(_)) => break Some(reason(CloseCode::Protocol, "malformed frame")),
                Some(Ok(AggregatedMessage::Close(_))) => break Some(reason(CloseCode::Normal, "bye")),
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    heard = Instant::now();
                    let _ = session.pong(&bytes).await;
                }
                Some(Ok(AggregatedMessage::Pong(_))) => heard = Instant::now(),
                Some(Ok(AggregatedMessage::Binary(_))) => {
                    heard = Instant::now();
                    self.outbox.frame(&ServerFrame::error("invalid_frame", "frames are JSON text"));
                }
                Some(Ok(AggregatedMessage::Text(text))) => {
                    heard = Instant::now();
                    if !bucket.take() {
                        self.outbox.frame(&ServerFrame::error("rate_limited", "too many frames; slow down"));
                        continue;
                    }
                    // Frames count against the same per-user and per-org limits as HTTP calls.
                    if let Err(err) = self.chat.auth.charge(&self.caller).await {
                        let api = err.api();
                        self.outbox.frame(&ServerFrame::error(api.code, api.message));
                        continue;
                    }
                    if self.handle(&text).await {
                        expiry.as_mut().reset(tokio::time::Instant::now() + until_expiry(&self.caller));
                    }
                }
            }
        };
        for session_id in self.open.keys() {
            self.chat.hub.unwatch(*session_id, self.id);
        }
        self.chat.hub.unwatch_user(self.caller.user_id, self.id);
        self.chat.hub.unwatch_access(self.id);
        self.chat.hub.cancel_turns_of(self.id);
        if let Some(close) = close {
            let _ = tokio::time::timeout(Duration::from_secs(5), session.close(Some(close))).await;
        }
        drop(self);
        let _ = writer.await;
    }

    /// Handles one client frame; true when it replaced the connection's credentials.
    async fn handle(&mut self, text: &str) -> bool {
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(err) => {
                self.outbox.frame(&ServerFrame::error("invalid_frame", format!("not a client frame: {err}")));
                return false;
            }
        };
        if let ClientFrame::Auth { token } = &frame {
            return self.reauthenticate(token).await;
        }
        if writes(&frame) && matches!(self.caller.credential, Credential::ApiKey { write: false, .. }) {
            self.outbox.frame(&ServerFrame::error("insufficient_scope", "this API key may only read"));
            return false;
        }
        let result = match frame {
            ClientFrame::SessionOpen { persona_id, session_id, last_seen_message_id } => {
                self.open_session(persona_id, session_id, last_seen_message_id).await
            }
            ClientFrame::MessageSend { session_id, content, client_id } => {
                self.send(session_id, &content, client_id).await
            }
            ClientFrame::Typing { session_id } => match self.open.get(&session_id) {
                Some(_) => {
                    let frame = ServerFrame::Typing { session_id, user_id: self.caller.user_id };
                    self.chat.hub.publish(session_id, Some(self.id), &Outgoing::new(&frame)).await;
                    Ok(())
                }
                None => Err(ChatError::Invalid("open the session first (session.open)".into())),
            },
            ClientFrame::MessageCancel { session_id } => match self.open.get(&session_id) {
                Some(session) => match service::ensure_owner(&self.caller, session) {
                    Ok(()) => {
                        self.chat.hub.cancel(session_id).await;
                        Ok(())
                    }
                    Err(err) => Err(err),
                },
                None => Err(ChatError::Invalid("open the session first (session.open)".into())),
            },
            ClientFrame::Ping => {
                self.outbox.frame(&ServerFrame::Pong);
                Ok(())
            }
            ClientFrame::Auth { .. } => Ok(()), // handled above
        };
        if let Err(err) = result {
            self.outbox.frame(&ServerFrame::api_error(&err.api()));
        }
        false
    }

    fn key_id(&self) -> Option<Uuid> {
        match self.caller.credential {
            Credential::ApiKey { id, .. } => Some(id),
            Credential::Session { .. } => None,
        }
    }

    /// Checks the connection's credential again after an access change (or, for a key, now and then). A credential
    /// that no longer holds closes the connection with 4401; the client signs in (or refreshes) and reconnects.
    async fn recheck(&mut self) -> Option<CloseReason> {
        match self.chat.auth.revalidate(&self.caller).await {
            Ok(fresh) => {
                self.caller = fresh;
                None
            }
            Err(AuthError::Unexpected(err)) => {
                // A database hiccup is no reason to drop a student mid-lesson: the next check decides.
                tracing::warn!(error = ?err, "re-checking a socket's credential");
                None
            }
            Err(err) => {
                tracing::info!(user_id = %self.caller.user_id, reason = %err, "closing a socket whose access changed");
                Some(reason(CloseCode::Other(TOKEN_EXPIRED), "access changed: sign in again"))
            }
        }
    }

    /// Replaces the connection's credentials with a fresh access token of the same person in the same org (their
    /// role may have changed since). A refused token leaves the current ones, and their expiry, as they were.
    async fn reauthenticate(&mut self, token: &str) -> bool {
        let fresh = match self.chat.auth.authenticate(token, &Method::GET).await {
            Ok(fresh) => fresh,
            Err(err) => {
                let api = err.api();
                self.outbox.frame(&ServerFrame::error(api.code, api.message));
                return false;
            }
        };
        let Some(expires_at) = fresh.expires_at() else {
            self.outbox.frame(&ServerFrame::error("invalid_request", "auth takes an access token, not an API key"));
            return false;
        };
        if (fresh.user_id, fresh.org_id) != (self.caller.user_id, self.caller.org_id) {
            self.outbox.frame(&ServerFrame::error("forbidden", "the token is another person's: open a new connection"));
            return false;
        }
        self.caller = fresh;
        self.outbox.frame(&ServerFrame::AuthOk { expires_at });
        true
    }

    async fn open_session(
        &mut self,
        persona_id: Option<Uuid>,
        session_id: Option<Uuid>,
        last_seen: Option<Uuid>,
    ) -> Result<(), ChatError> {
        let session = match (session_id, persona_id) {
            (Some(id), _) => self.chat.readable(&self.caller, id).await?,
            (None, Some(persona)) => self.chat.create_session(&self.caller, persona).await?,
            (None, None) => return Err(ChatError::Invalid("session.open needs session_id or persona_id".into())),
        };
        // Watch before reading history, so nothing written in between is missed (at worst seen twice).
        if !self.open.contains_key(&session.id) {
            self.chat.hub.watch(session.id, self.id, self.outbox.clone());
        }
        let history = self.chat.history(&session, last_seen, HISTORY_LIMIT).await?;
        let ready = ServerFrame::SessionReady { session: SessionView::from(&session), history };
        self.open.insert(session.id, session);
        self.outbox.frame(&ready);
        Ok(())
    }

    async fn send(&mut self, session_id: Uuid, content: &str, client_id: Option<String>) -> Result<(), ChatError> {
        if client_id.as_ref().is_some_and(|id| id.chars().count() > CLIENT_ID_MAX) {
            return Err(ChatError::Invalid(format!("client_id must be at most {CLIENT_ID_MAX} characters")));
        }
        let session = self
            .open
            .get(&session_id)
            .cloned()
            .ok_or_else(|| ChatError::Invalid("open the session first (session.open)".into()))?;
        let accepted = self.chat.accept(&self.caller, session, content, Some(self.id)).await?;
        self.outbox.frame(&ServerFrame::MessageAccepted { client_id, message_id: accepted.turn.question.id });
        self.chat.answer_in_background(accepted, self.outbox.clone());
        Ok(())
    }
}

/// Frames that change something (a session, a turn, what others see): refused to a read-only key.
fn writes(frame: &ClientFrame) -> bool {
    match frame {
        ClientFrame::SessionOpen { session_id, .. } => session_id.is_none(),
        ClientFrame::MessageSend { .. } | ClientFrame::MessageCancel { .. } | ClientFrame::Typing { .. } => true,
        ClientFrame::Ping | ClientFrame::Auth { .. } => false,
    }
}

/// How long the connection's credentials have left (API keys: no end, in practice).
fn until_expiry(caller: &AuthUser) -> Duration {
    // Far enough for any connection, near enough for the timer wheel (about two years at most).
    const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);
    let Some(expires_at) = caller.expires_at() else { return NEVER };
    let now = chrono::Utc::now().timestamp();
    Duration::from_secs(u64::try_from(expires_at.saturating_sub(now)).unwrap_or(0))
}

fn reason(code: CloseCode, description: &str) -> CloseReason {
    CloseReason { code, description: Some(description.to_owned()) }
}

/// Sends the outbox in order. A client that stops reading blocks the send; when the outbox then overflows, the
/// connection is closed with 1008 instead of queueing more.
async fn write(mut session: Session, mut rx: mpsc::Receiver<Outgoing>, overflow: CancellationToken) {
    loop {
        let frame = tokio::select! {
            biased;
            () = overflow.cancelled() => break,
            frame = rx.recv() => match frame {
                Some(frame) => frame,
                None => return,
            },
        };
        let sent = tokio::select! {
            biased;
            () = overflow.cancelled() => break,
            sent = async {
                if frame.event == PING { session.ping(b"").await } else { session.text(&*frame.json).await }
            } => sent,
        };
        if sent.is_err() {
            return;
        }
    }
    tracing::info!("closing a chat WebSocket whose client does not read");
    let close = session.close(Some(reason(CloseCode::Policy, "outbox full: the client is not reading")));
    let _ = tokio::time::timeout(Duration::from_secs(30), close).await;
}

/// Per-connection token bucket for client frames.
struct Bucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64, burst: f64) -> Self {
        Self { tokens: burst.max(1.0), rate: rate.max(0.0), burst: burst.max(1.0), at: Instant::now() }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let mut bucket = Bucket::new(0.0, 3.0);
        assert!(bucket.take() && bucket.take() && bucket.take());
        assert!(!bucket.take(), "burst spent, no refill at rate 0");
    }

    /// Damaged client frames: parsed or refused, never a panic.
    #[test]
    fn fuzz_client_frames() {
        use crate::platform::mutate;
        let seeds: Vec<Vec<u8>> = [
            r#"{"type":"session.open","session_id":"01a225b6-c627-77ab-981c-af20b2241031","last_seen_message_id":null}"#,
            r#"{"type":"message.send","session_id":"01a225b6-c627-77ab-981c-af20b2241031","content":"hi","client_id":"c1"}"#,
            r#"{"type":"auth","token":"eyJ.x.y"}"#,
            r#"{"type":"typing","session_id":"01a225b6-c627-77ab-981c-af20b2241031"}"#,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let mut parsed = 0;
        for case in mutate::cases(31, &seeds) {
            parsed += usize::from(serde_json::from_str::<ClientFrame>(&String::from_utf8_lossy(&case)).is_ok());
        }
        assert!(parsed < mutate::iterations(), "most damaged frames are refused");
    }
}
