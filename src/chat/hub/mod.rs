//! Live session events between connections and replicas.
//!
//! Every replica subscribes once to one pub/sub topic (`chat`); a turn publishes each frame there with its
//! session id, and each replica hands it to its own connections watching that session. One subscription per
//! replica (not per connection) keeps Redis at one pub/sub connection per replica however many students are
//! online. The connection that started a turn gets the turn's frames directly (`Outbox`), not through the bus,
//! so its answer never waits on a Redis round trip; the bus skips it by its connection id.
//!
//! Cancellation travels the same way: `message.cancel` on any replica reaches the replica running the turn.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use outbox::{Outbox, Outgoing};
pub use turns::TurnGuard;

use super::views::ServerFrame;
use crate::platform::leases::Leases;
use crate::platform::pubsub::PubSub;

mod access;
mod outbox;
mod turns;

const TOPIC: &str = "chat";

#[derive(Serialize, Deserialize)]
struct Envelope {
    session_id: Uuid,
    /// The connection that needs no copy (it started the turn, or it is typing).
    #[serde(default)]
    from: Option<Uuid>,
    /// A frame's JSON, forwarded as is; absent for a cancel.
    #[serde(default)]
    frame: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    cancel: bool,
    /// The replica that published a cancel: it has already cancelled locally, and its own echo arriving late must
    /// not cancel the session's next turn.
    #[serde(default)]
    replica: Option<Uuid>,
}

struct Watcher {
    connection: Uuid,
    outbox: Outbox,
}

struct RunningTurn {
    cancel: CancellationToken,
    connection: Option<Uuid>,
}

pub struct ChatHub {
    replica: Uuid,
    pubsub: Arc<dyn PubSub>,
    watchers: Mutex<HashMap<Uuid, Vec<Watcher>>>,
    /// Connections by user, for events addressed to a person rather than a session (their uploads' progress).
    users: Mutex<HashMap<Uuid, Vec<Watcher>>>,
    turns: Mutex<HashMap<Uuid, RunningTurn>>,
    /// Each connection's credential, to narrow or close it when that access changes (see `access.rs`).
    access: Mutex<HashMap<Uuid, access::Credentialed>>,
    /// One turn per session across replicas: the local `turns` map says which turn runs here (and routes its
    /// cancel); the lease says that none runs anywhere else.
    leases: Arc<dyn Leases>,
    lease_ttl: Duration,
}

impl ChatHub {
    /// Subscribes this replica to the bus and starts handing its events to local connections. An unreachable
    /// Redis does not stop the start (`/readyz` reports it): the subscription is retried in the background, and
    /// until then this replica's connections only see the turns they ask for themselves.
    pub async fn start(pubsub: Arc<dyn PubSub>, leases: Arc<dyn Leases>, lease_ttl: Duration) -> Arc<Self> {
        let hub = Arc::new(Self {
            replica: Uuid::new_v4(),
            pubsub,
            watchers: Mutex::default(),
            users: Mutex::default(),
            turns: Mutex::default(),
            access: Mutex::default(),
            leases,
            lease_ttl: lease_ttl.max(Duration::from_secs(1)),
        });
        let stream = match tokio::time::timeout(Duration::from_secs(5), hub.pubsub.subscribe(TOPIC)).await {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(err)) => {
                tracing::error!(error = ?err, "subscribing to chat events; retrying in the background");
                None
            }
            Err(_) => {
                tracing::error!("subscribing to chat events timed out; retrying in the background");
                None
            }
        };
        tokio::spawn(listen(Arc::downgrade(&hub), stream));
        hub
    }

    /// Frames of `session_id` published from now on reach `outbox`, except those from `connection` itself.
    pub fn watch(&self, session_id: Uuid, connection: Uuid, outbox: Outbox) {
        if let Ok(mut watchers) = self.watchers.lock() {
            watchers.entry(session_id).or_default().push(Watcher { connection, outbox });
        }
    }

    pub fn unwatch(&self, session_id: Uuid, connection: Uuid) {
        if let Ok(mut watchers) = self.watchers.lock()
            && let Some(list) = watchers.get_mut(&session_id)
        {
            list.retain(|w| w.connection != connection);
            if list.is_empty() {
                watchers.remove(&session_id);
            }
        }
    }

    /// Frames for `user_id` (see [`Self::deliver_to_user`]) reach `outbox` until [`Self::unwatch_user`].
    pub fn watch_user(&self, user_id: Uuid, connection: Uuid, outbox: Outbox) {
        if let Ok(mut users) = self.users.lock() {
            users.entry(user_id).or_default().push(Watcher { connection, outbox });
        }
    }

    pub fn unwatch_user(&self, user_id: Uuid, connection: Uuid) {
        if let Ok(mut users) = self.users.lock()
            && let Some(list) = users.get_mut(&user_id)
        {
            list.retain(|w| w.connection != connection);
            if list.is_empty() {
                users.remove(&user_id);
            }
        }
    }

    /// Hands a frame to this replica's connections of `user_id`. The events it carries already reach every
    /// replica on their own topic, so there is no bus hop here.
    pub fn deliver_to_user(&self, user_id: Uuid, frame: &ServerFrame) {
        let Ok(users) = self.users.lock() else { return };
        let Some(list) = users.get(&user_id) else { return };
        let frame = Outgoing::new(frame);
        for watcher in list {
            watcher.outbox.push(frame.clone());
        }
    }

    /// Publishes a frame of `session_id` to every replica's watchers but `from`'s. Best effort: history has it.
    pub async fn publish(&self, session_id: Uuid, from: Option<Uuid>, frame: &Outgoing) {
        let envelope = Envelope {
            session_id,
            from,
            frame: Some(frame.json.to_string()),
            event: Some(frame.event.to_owned()),
            cancel: false,
            replica: None,
        };
        self.send(&envelope).await;
    }

    /// Cancels the session's running turn, wherever it runs.
    pub async fn cancel(&self, session_id: Uuid) {
        self.cancel_local(session_id);
        let envelope =
            Envelope { session_id, from: None, frame: None, event: None, cancel: true, replica: Some(self.replica) };
        self.send(&envelope).await;
    }

    /// Cancels the turns a closing connection started: nobody is left to read them.
    pub fn cancel_turns_of(&self, connection: Uuid) {
        if let Ok(turns) = self.turns.lock() {
            for turn in turns.values().filter(|t| t.connection == Some(connection)) {
                turn.cancel.cancel();
            }
        }
    }

    fn cancel_local(&self, session_id: Uuid) {
        if let Ok(turns) = self.turns.lock()
            && let Some(turn) = turns.get(&session_id)
        {
            turn.cancel.cancel();
        }
    }

    async fn send(&self, envelope: &Envelope) {
        let Ok(json) = serde_json::to_string(envelope) else { return };
        if let Err(err) = self.pubsub.publish(TOPIC, json).await {
            tracing::warn!(error = ?err, "could not publish a chat event");
        }
    }

    fn deliver(&self, envelope: Envelope) {
        if envelope.cancel {
            if envelope.replica != Some(self.replica) {
                self.cancel_local(envelope.session_id);
            }
            return;
        }
        let Some(json) = envelope.frame else { return };
        let frame = Outgoing { event: event_name(envelope.event.as_deref()), json: json.into() };
        let Ok(watchers) = self.watchers.lock() else { return };
        for watcher in watchers.get(&envelope.session_id).into_iter().flatten() {
            if Some(watcher.connection) != envelope.from {
                watcher.outbox.push(frame.clone());
            }
        }
    }
}

fn event_name(name: Option<&str>) -> &'static str {
    const NAMES: [&str; 9] = [
        "session.ready",
        "message.accepted",
        "answer.delta",
        "answer.citation",
        "avatar.cue",
        "answer.done",
        "typing",
        "error",
        "pong",
    ];
    name.and_then(|n| NAMES.into_iter().find(|known| *known == n)).unwrap_or("message")
}

/// Hands bus events to local watchers; (re)subscribes whenever there is no subscription (a Redis connection
/// lost, or Redis down at start).
async fn listen(hub: Weak<ChatHub>, mut stream: Option<futures_util::stream::BoxStream<'static, String>>) {
    loop {
        if let Some(events) = stream.as_mut() {
            while let Some(message) = events.next().await {
                let Some(hub) = hub.upgrade() else { return };
                match serde_json::from_str::<Envelope>(&message) {
                    Ok(envelope) => hub.deliver(envelope),
                    Err(err) => tracing::warn!(error = %err, "malformed chat event on the bus"),
                }
            }
            tracing::warn!("chat event subscription ended; resubscribing");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(pubsub) = hub.upgrade().map(|h| h.pubsub.clone()) else { return };
        stream = match pubsub.subscribe(TOPIC).await {
            Ok(s) => Some(s),
            Err(err) => {
                tracing::debug!(error = ?err, "resubscribing to chat events");
                None
            }
        };
    }
}
