//! Durable background jobs: a `jobs` table and tokio workers in this process. Leases with expiry make a job
//! held by a crashed process run again; failures retry with backoff and end `dead` after `max_attempts`.

mod queue;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use queue::{Job, JobQueue, JobStatus, NewJob, now_ms};
pub use worker::{JobError, JobHandler, JobRegistry, Outcome, Worker};

use crate::platform::metrics::Metrics;

/// The workers of one process and the means to stop them.
pub struct JobRunner {
    stop: CancellationToken,
    abort: CancellationToken,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl JobRunner {
    pub fn start(
        queue: &JobQueue,
        registry: Arc<JobRegistry>,
        metrics: Option<Arc<Metrics>>,
        count: usize,
        instance: &str,
    ) -> Self {
        let stop = CancellationToken::new();
        let abort = CancellationToken::new();
        let handles = (0..count)
            .map(|n| {
                let worker = Worker::new(format!("{instance}-{n}"), queue.clone(), registry.clone(), metrics.clone());
                tokio::spawn(worker.run(stop.clone(), abort.clone()))
            })
            .collect();
        Self { stop, abort, handles }
    }

    /// Stops claiming, gives running jobs `grace` to finish, then hands the rest back to the queue.
    pub async fn shutdown(self, grace: Duration) {
        self.stop.cancel();
        let mut handles = self.handles;
        let all = futures_util::future::join_all(handles.iter_mut());
        if tokio::time::timeout(grace, all).await.is_err() {
            self.abort.cancel();
            // Releasing a lease is one UPDATE; if even that hangs, the lease expires on its own.
            let _ = tokio::time::timeout(Duration::from_secs(2), futures_util::future::join_all(handles)).await;
        }
    }
}

/// Queues a `kind` job (empty payload) at the end of every `period`, for as long as the process runs. Every
/// replica calls this; the period's number as dedupe key makes it one job per period.
pub fn every(queue: JobQueue, db: sea_orm::DatabaseConnection, kind: &'static str, period: Duration) {
    tokio::spawn(async move {
        let period_ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX).max(1);
        loop {
            let next = (now_ms() / period_ms).saturating_add(1);
            let job = NewJob {
                kind: kind.into(),
                payload: serde_json::json!({}),
                org_id: None,
                dedupe_key: Some(format!("{kind}:{next}")),
            };
            let run_at = next.saturating_mul(period_ms);
            if let Err(err) = queue.enqueue_in(&db, job, run_at).await {
                tracing::warn!(error = ?err, kind, "could not schedule the next periodic job");
            }
            let wait = run_at.saturating_sub(now_ms()).max(1000);
            tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(1000))).await;
        }
    });
}
