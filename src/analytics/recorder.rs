//! The batched event writer. Domains' events are turned into [`Activity`] values on the emitter's task (a
//! `try_send`, so a chat turn never waits for analytics) and one writer task stores them: each batch is what
//! arrived while the previous one was being written, stored in one transaction as raw events plus the rollups
//! the dashboards read. [`Recorder::flush`] waits until everything sent before it is stored (graceful shutdown).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::store::writes;
use super::zones::Zones;
use crate::auth::views::SignedIn;
use crate::billing::BillingActivity;
use crate::chat::views::ChatActivity;
use crate::ingest::views::DocumentFinished;
use crate::platform::Backends;

/// Events waiting for the writer before new ones are dropped (and counted): memory stays bounded if the database
/// stalls, and the product keeps serving.
const QUEUE: usize = 100_000;
/// Events stored per transaction at most.
const BATCH: usize = 2_000;

/// One thing that happened, as analytics stores it.
#[derive(Debug, Clone)]
pub enum Activity {
    SignedIn {
        org_id: Uuid,
        user_id: Uuid,
        at: DateTime<Utc>,
    },
    DocumentFinished(DocumentFinished, DateTime<Utc>),
    Chat(ChatActivity),
    /// A safety flag was raised on a student's message.
    Flagged {
        org_id: Uuid,
        user_id: Uuid,
        session_id: Uuid,
        persona_id: Option<Uuid>,
        severity: String,
        at: DateTime<Utc>,
    },
    /// A plan's limit refused something.
    QuotaHit {
        org_id: Uuid,
        user_id: Option<Uuid>,
        quota: String,
        at: DateTime<Utc>,
    },
    /// An org's plan changed (`source`: `stripe` or `operator`).
    PlanChanged {
        org_id: Uuid,
        user_id: Option<Uuid>,
        from: String,
        to: String,
        source: String,
        at: DateTime<Utc>,
    },
    /// The web app's own event (`POST /events`), already validated.
    Client {
        org_id: Uuid,
        user_id: Option<Uuid>,
        kind: String,
        session_id: Option<Uuid>,
        message_id: Option<Uuid>,
        data: Option<serde_json::Value>,
        at: DateTime<Utc>,
    },
}

enum Entry {
    Activity(Box<Activity>),
    Flush(oneshot::Sender<()>),
}

/// Cheap to clone; every clone feeds the one writer.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Entry>,
    dropped: Arc<AtomicU64>,
}

impl Recorder {
    /// Starts the writer task on the current runtime.
    pub fn start(backends: &Backends, zones: Zones) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(backends.clone(), zones, rx));
        Self { tx, dropped: Arc::default() }
    }

    /// Hands `activity` to the writer without waiting; when the queue is full it is dropped and counted.
    pub fn record(&self, activity: Activity) {
        if self.tx.try_send(Entry::Activity(Box::new(activity))).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // Once per thousand, so a stalled database does not also flood the log.
            if dropped % 1000 == 1 {
                tracing::warn!(dropped, "the analytics queue is full or closed; dropping events");
            }
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Returns once every event recorded before this call is stored (or the writer is gone).
    pub async fn flush(&self) {
        let (done, stored) = oneshot::channel();
        if self.tx.send(Entry::Flush(done)).await.is_ok() {
            let _ = stored.await;
        }
    }
}

async fn write_loop(backends: Backends, zones: Zones, mut rx: mpsc::Receiver<Entry>) {
    let mut entries = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut entries, BATCH).await > 0 {
        let mut batch = Vec::with_capacity(entries.len());
        let mut waiting = Vec::new();
        for entry in entries.drain(..) {
            match entry {
                Entry::Activity(activity) => batch.push(*activity),
                Entry::Flush(done) => waiting.push(done),
            }
        }
        if !batch.is_empty() {
            store_batch(&backends, &zones, &batch).await;
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

/// A failed batch is retried once (a lock timeout, a failover); then it is logged and let go, since the writer
/// must keep up with what comes next.
async fn store_batch(backends: &Backends, zones: &Zones, batch: &[Activity]) {
    for attempt in 1..=2 {
        match writes::store(&backends.db, zones, batch).await {
            Ok(()) => return,
            Err(err) if attempt == 1 => {
                tracing::warn!(error = ?err, events = batch.len(), "storing analytics events; retrying once");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(err) => tracing::error!(error = ?err, events = batch.len(), "could not store analytics events"),
        }
    }
}

/// Subscribes the recorder to the events the other domains emit in this process.
pub fn listen(backends: &Backends, recorder: &Recorder) {
    let bus = &backends.local_events;
    let r = recorder.clone();
    bus.on::<SignedIn>(move |e| r.record(Activity::SignedIn { org_id: e.org_id, user_id: e.user_id, at: Utc::now() }));
    let r = recorder.clone();
    bus.on::<DocumentFinished>(move |e| r.record(Activity::DocumentFinished(e.clone(), Utc::now())));
    let r = recorder.clone();
    bus.on::<ChatActivity>(move |e| r.record(Activity::Chat(e.clone())));
    let r = recorder.clone();
    bus.on::<BillingActivity>(move |e| {
        r.record(match e {
            BillingActivity::QuotaHit { org_id, user_id, quota, .. } => {
                Activity::QuotaHit { org_id: *org_id, user_id: *user_id, quota: quota.clone(), at: Utc::now() }
            }
            BillingActivity::PlanChanged { org_id, actor_id, from, to, source } => Activity::PlanChanged {
                org_id: *org_id,
                user_id: *actor_id,
                from: from.clone(),
                to: to.clone(),
                source: source.clone(),
                at: Utc::now(),
            },
        });
    });
}
