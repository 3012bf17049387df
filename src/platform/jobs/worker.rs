//! Workers: each claims one job at a time and runs it. [`Worker::run_one`] is the single step (tests call it
//! directly); [`Worker::run`] loops over it until shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::queue::{Job, JobQueue, JobStatus, now_ms};
use crate::platform::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (a timeout, a 503 upstream).
    #[error(transparent)]
    Retry(anyhow::Error),
    /// Will fail the same way every time (a corrupt file): no more attempts.
    #[error(transparent)]
    Permanent(anyhow::Error),
}

/// One kind of background work. Handlers must be idempotent: a job whose worker died mid-way runs again.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn run(&self, job: &Job) -> Result<(), JobError>;

    /// Called once when the job goes `dead` (out of attempts, a permanent error, or a lease that expired on
    /// every attempt), so the work it stood for can be marked failed instead of pending forever.
    async fn on_dead(&self, _job: &Job) {}
}

#[derive(Default, Clone)]
pub struct JobRegistry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

impl JobRegistry {
    pub fn register(&mut self, kind: &str, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(kind.to_owned(), handler);
    }

    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.handlers.keys().cloned().collect();
        kinds.sort();
        kinds
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// Failed; queued again for a later attempt.
    Retrying,
    Dead,
    /// Shutdown came first: the job went back to the queue untouched.
    Released,
    /// The lease expired while the job ran and another worker took it over: this run was stopped (or, if it had
    /// just finished, its result dropped).
    LeaseLost,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Retrying => "retrying",
            Self::Dead => "dead",
            Self::Released => "released",
            Self::LeaseLost => "lease_lost",
        }
    }
}

#[derive(Clone)]
pub struct Worker {
    id: String,
    queue: JobQueue,
    registry: Arc<JobRegistry>,
    kinds: Vec<String>,
    metrics: Option<Arc<Metrics>>,
}

impl Worker {
    pub fn new(id: String, queue: JobQueue, registry: Arc<JobRegistry>, metrics: Option<Arc<Metrics>>) -> Self {
        let kinds = registry.kinds();
        Self { id, queue, registry, kinds, metrics }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Claims one due job and runs it to its end. `Ok(None)`: nothing was due. `abort` firing mid-job hands the
    /// job back to the queue (shutdown past its grace period).
    pub async fn run_one(&self, abort: &CancellationToken) -> anyhow::Result<Option<(Job, Outcome)>> {
        self.run_one_at(now_ms(), abort).await
    }

    /// [`Self::run_one`] with the clock given: what is due, and when a retry comes, are judged at `now`.
    #[tracing::instrument(skip_all, fields(worker = %self.id))]
    pub async fn run_one_at(&self, now: i64, abort: &CancellationToken) -> anyhow::Result<Option<(Job, Outcome)>> {
        let Some(job) = self.queue.claim(&self.id, &self.kinds, now).await? else {
            return Ok(None);
        };
        let span = tracing::info_span!("job", id = %job.id, kind = %job.kind, attempt = job.attempts);
        let outcome = tracing::Instrument::instrument(self.execute(&job, now, abort), span).await?;
        if let Some(metrics) = &self.metrics {
            metrics.job_outcomes.with_label_values(&[job.kind.as_str(), outcome.label()]).inc();
        }
        Ok(Some((job, outcome)))
    }

    async fn execute(&self, job: &Job, now: i64, abort: &CancellationToken) -> anyhow::Result<Outcome> {
        let Some(handler) = self.registry.handlers.get(&job.kind).cloned() else {
            self.queue.release(job.id, &self.id).await?;
            return Ok(Outcome::Released);
        };
        if job.attempts > job.max_attempts {
            // Its workers kept dying mid-run (the lease expired every time): stop feeding it to new ones.
            self.queue.fail(job, &self.id, "lease expired on every attempt", true, now).await?;
            tracing::warn!("job dead after its lease expired on every attempt");
            handler.on_dead(job).await;
            return Ok(Outcome::Dead);
        }
        let lost = CancellationToken::new();
        let heartbeat = self.spawn_heartbeat(job.id, lost.clone());
        let result = tokio::select! {
            result = handler.run(job) => Ended::Ran(result),
            () = abort.cancelled() => Ended::Aborted,
            // Another worker owns the job now (this one stalled past its lease): stop before both write.
            () = lost.cancelled() => Ended::LeaseLost,
        };
        drop(heartbeat);
        let outcome = match result {
            Ended::Aborted => {
                self.queue.release(job.id, &self.id).await?;
                tracing::info!("job handed back to the queue at shutdown");
                Outcome::Released
            }
            Ended::LeaseLost => {
                tracing::warn!("job stopped: its lease was lost to another worker");
                Outcome::LeaseLost
            }
            Ended::Ran(Ok(())) => {
                if self.queue.complete(job.id, &self.id).await? {
                    Outcome::Succeeded
                } else {
                    tracing::warn!("job finished after its lease was lost");
                    Outcome::LeaseLost
                }
            }
            Ended::Ran(Err(err)) => {
                let (cause, permanent) = match &err {
                    JobError::Retry(e) => (e, false),
                    JobError::Permanent(e) => (e, true),
                };
                let message = format!("{cause:#}");
                // The retry delay counts from the failure, not the claim: a job may have run for minutes.
                match self.queue.fail(job, &self.id, &message, permanent, now.max(now_ms())).await? {
                    JobStatus::Dead => {
                        tracing::error!(error = %message, "job dead");
                        let mut dead = job.clone();
                        dead.last_error = Some(message);
                        handler.on_dead(&dead).await;
                        Outcome::Dead
                    }
                    _ => {
                        tracing::warn!(error = %message, "job failed; will retry");
                        Outcome::Retrying
                    }
                }
            }
        };
        Ok(outcome)
    }

    /// Renews the lease at a third of its length, so only a dead or stalled process (not a slow job) loses it;
    /// cancels `lost` when the lease is no longer this worker's.
    fn spawn_heartbeat(&self, id: uuid::Uuid, lost: CancellationToken) -> AbortOnDrop {
        let queue = self.queue.clone();
        let worker = self.id.clone();
        let every = Duration::from_millis((queue.settings().lease_secs * 1000 / 3).max(100));
        AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match queue.extend_lease(id, &worker, now_ms()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        lost.cancel();
                        break;
                    }
                    Err(err) => tracing::warn!(error = ?err, "could not extend a job lease"),
                }
            }
        }))
    }

    /// Runs jobs until `stop` fires (no new claims), then lets the current job finish unless `abort` fires.
    pub async fn run(self, stop: CancellationToken, abort: CancellationToken) {
        let idle = Duration::from_millis(self.queue.settings().poll_interval_ms);
        while !stop.is_cancelled() {
            match self.run_one(&abort).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(err) => tracing::error!(error = ?err, worker = %self.id, "job worker step failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(idle) => {}
                () = self.queue.enqueued() => {}
                () = stop.cancelled() => {}
            }
        }
    }
}

/// How a job's run ended.
enum Ended {
    Ran(Result<(), JobError>),
    /// Shutdown past its grace period.
    Aborted,
    /// The heartbeat found the lease taken over.
    LeaseLost,
}

/// Stops the heartbeat however the job's future ends, including when the future itself is dropped: a lease
/// must only outlive its job by running out.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
