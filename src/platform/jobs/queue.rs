//! The `jobs` table as a queue. Every state change is one SQL statement guarded by the worker's lease, so a
//! worker that lost its lease (it stalled, another worker took the job over) cannot overwrite the new owner.

use std::sync::Arc;

use anyhow::Context;
use rand::Rng;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement, Value};
use serde::Serialize;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::JobSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for `run_at`; also where a failed attempt waits for its retry.
    Queued,
    Running,
    Succeeded,
    /// Gave up: out of attempts, or a permanent error.
    Dead,
}

impl JobStatus {
    fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "dead" => Self::Dead,
            other => anyhow::bail!("unknown job status {other:?}"),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: i64,
    pub lease_until: Option<i64>,
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
    pub org_id: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    pub org_id: Option<Uuid>,
    /// While a job with this key is queued or running, enqueueing the same key returns that job instead.
    pub dedupe_key: Option<String>,
}

#[derive(Clone)]
pub struct JobQueue {
    db: DatabaseConnection,
    settings: JobSettings,
    /// Rung on enqueue so an idle worker of this process claims the job at once instead of at its next poll
    /// (up to `poll_interval_ms` later). Other processes still find it by polling.
    wake: Arc<Notify>,
}

const COLUMNS: &str =
    "id, kind, payload, status, attempts, max_attempts, run_at, lease_until, locked_by, last_error, org_id";

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl JobQueue {
    pub fn new(db: DatabaseConnection, settings: JobSettings) -> Self {
        Self { db, settings, wake: Arc::new(Notify::new()) }
    }

    /// Resolves when a job was enqueued here since the last wake-up was taken (a stored permit counts, so an
    /// enqueue while every worker is busy is not missed).
    pub async fn enqueued(&self) {
        self.wake.notified().await;
    }

    pub fn settings(&self) -> &JobSettings {
        &self.settings
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.backend(), self.placeholders(sql), values)
    }

    /// Queries are written with `?`; Postgres wants `$1, $2, ...`.
    fn placeholders(&self, sql: &str) -> String {
        if self.backend() != DbBackend::Postgres {
            return sql.to_owned();
        }
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for ch in sql.chars() {
            if ch == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(ch);
            }
        }
        out
    }

    /// Queues `job` to run now, and wakes an idle worker of this process.
    #[tracing::instrument(skip(self, job), fields(kind = %job.kind))]
    pub async fn enqueue(&self, job: NewJob) -> anyhow::Result<Uuid> {
        let id = self.enqueue_in(&self.db, job, now_ms()).await?;
        self.wake();
        Ok(id)
    }

    /// Queues `job` to run at `run_at` (Unix ms) on `conn`, which may be a transaction: a job enqueued with the row
    /// it works on exists exactly when the row does. Call [`Self::wake`] once the transaction has committed.
    pub async fn enqueue_in(&self, conn: &impl ConnectionTrait, job: NewJob, run_at: i64) -> anyhow::Result<Uuid> {
        let id = Uuid::now_v7();
        let now = now_ms();
        let sql = "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, org_id, dedupe_key, \
                   created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?) \
                   ON CONFLICT (dedupe_key) DO NOTHING";
        let values = vec![
            id.into(),
            job.kind.clone().into(),
            job.payload.into(),
            self.settings.max_attempts.into(),
            run_at.into(),
            job.org_id.into(),
            job.dedupe_key.clone().into(),
            now.into(),
            now.into(),
        ];
        let inserted = conn.execute_raw(self.stmt(sql, values)).await.context("enqueueing a job")?;
        if inserted.rows_affected() == 1 {
            return Ok(id);
        }
        let key = job.dedupe_key.context("insert skipped without a dedupe key")?;
        let row = conn
            .query_one_raw(self.stmt("SELECT id FROM jobs WHERE dedupe_key = ?", vec![key.into()]))
            .await?
            .context("deduplicated job vanished")?;
        Ok(row.try_get("", "id")?)
    }

    /// Tells an idle worker of this process that a job is due (one enqueued in a transaction that has committed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Takes the next due job of one of `kinds` (or one whose lease expired: its worker died) and leases it to
    /// `worker`. On Postgres `FOR UPDATE SKIP LOCKED` lets replicas claim side by side; SQLite runs the one
    /// UPDATE under its write lock, which serialises claims.
    #[tracing::instrument(skip(self, kinds))]
    pub async fn claim(&self, worker: &str, kinds: &[String], now: i64) -> anyhow::Result<Option<Job>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let kind_list = vec!["?"; kinds.len()].join(", ");
        let lock = if self.backend() == DbBackend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = ?, lease_until = ?, \
             updated_at = ? WHERE id = (SELECT id FROM jobs WHERE kind IN ({kind_list}) AND \
             ((status = 'queued' AND run_at <= ?) OR (status = 'running' AND lease_until < ?)) \
             ORDER BY run_at, id LIMIT 1 {lock}) RETURNING {COLUMNS}"
        );
        let lease_ms = i64::try_from(self.settings.lease_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let mut values: Vec<Value> = vec![worker.into(), now.saturating_add(lease_ms).into(), now.into()];
        values.extend(kinds.iter().map(|k| Value::from(k.clone())));
        values.extend([now.into(), now.into()]);
        let row = self.db.query_one_raw(self.stmt(&sql, values)).await.context("claiming a job")?;
        row.map(|r| job_from_row(&r)).transpose()
    }

    /// Pushes the lease forward while a long job runs. `false`: the lease is no longer ours.
    pub async fn extend_lease(&self, id: Uuid, worker: &str, now: i64) -> anyhow::Result<bool> {
        let lease_ms = i64::try_from(self.settings.lease_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let sql =
            "UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND locked_by = ? AND status = 'running'";
        let values = vec![now.saturating_add(lease_ms).into(), now.into(), id.into(), worker.into()];
        Ok(self.db.execute_raw(self.stmt(sql, values)).await?.rows_affected() == 1)
    }

    /// `false`: the lease was lost before the job finished, so another worker owns (or re-ran) it.
    pub async fn complete(&self, id: Uuid, worker: &str) -> anyhow::Result<bool> {
        let sql = "UPDATE jobs SET status = 'succeeded', lease_until = NULL, locked_by = NULL, last_error = NULL, \
                   dedupe_key = NULL, updated_at = ? WHERE id = ? AND locked_by = ? AND status = 'running'";
        let values = vec![now_ms().into(), id.into(), worker.into()];
        Ok(self.db.execute_raw(self.stmt(sql, values)).await?.rows_affected() == 1)
    }

    /// Records a failed attempt: back to `queued` with an exponential, jittered delay, or `dead` when out of
    /// attempts or `permanent`. Returns the status the job ended in.
    pub async fn fail(
        &self,
        job: &Job,
        worker: &str,
        error: &str,
        permanent: bool,
        now: i64,
    ) -> anyhow::Result<JobStatus> {
        let dead = permanent || job.attempts >= job.max_attempts;
        let (status, run_at) =
            if dead { ("dead", job.run_at) } else { ("queued", now.saturating_add(self.backoff_ms(job.attempts))) };
        // A dead job frees its dedupe key so the same work can be asked for again.
        let sql = "UPDATE jobs SET status = ?, run_at = ?, last_error = ?, lease_until = NULL, locked_by = NULL, \
                   dedupe_key = CASE WHEN ? THEN NULL ELSE dedupe_key END, updated_at = ? \
                   WHERE id = ? AND locked_by = ? AND status = 'running'";
        let error: String = error.chars().take(4000).collect();
        let values =
            vec![status.into(), run_at.into(), error.into(), dead.into(), now.into(), job.id.into(), worker.into()];
        self.db.execute_raw(self.stmt(sql, values)).await.context("recording a job failure")?;
        Ok(if dead { JobStatus::Dead } else { JobStatus::Queued })
    }

    /// Hands a running job back untouched (shutdown): it is due again at once, and this attempt is not counted.
    pub async fn release(&self, id: Uuid, worker: &str) -> anyhow::Result<bool> {
        let sql = "UPDATE jobs SET status = 'queued', attempts = attempts - 1, lease_until = NULL, locked_by = NULL, \
                   updated_at = ? WHERE id = ? AND locked_by = ? AND status = 'running'";
        let values = vec![now_ms().into(), id.into(), worker.into()];
        Ok(self.db.execute_raw(self.stmt(sql, values)).await?.rows_affected() == 1)
    }

    pub async fn get(&self, id: Uuid) -> anyhow::Result<Option<Job>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = ?");
        let row = self.db.query_one_raw(self.stmt(&sql, vec![id.into()])).await?;
        row.map(|r| job_from_row(&r)).transpose()
    }

    /// How many jobs are in each status, for `/metrics`.
    pub async fn depth(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let rows =
            self.db.query_all_raw(self.stmt("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status", vec![])).await?;
        rows.iter().map(|r| Ok((r.try_get("", "status")?, r.try_get("", "n")?))).collect()
    }

    /// `base * 2^(attempt-1)`, capped, with ±20% jitter so a burst of failures does not retry in lockstep.
    pub fn backoff_ms(&self, attempt: i32) -> i64 {
        let base = self.settings.backoff_base_ms as f64;
        let cap = (self.settings.backoff_max_secs * 1000) as f64;
        let exp = base * 2f64.powi(attempt.saturating_sub(1).clamp(0, 30));
        let jitter = rand::rng().random_range(0.8..=1.2);
        (exp.min(cap) * jitter) as i64
    }
}

fn job_from_row(row: &QueryResult) -> anyhow::Result<Job> {
    let status: String = row.try_get("", "status")?;
    Ok(Job {
        id: row.try_get("", "id")?,
        kind: row.try_get("", "kind")?,
        payload: row.try_get("", "payload")?,
        status: JobStatus::parse(&status)?,
        attempts: row.try_get("", "attempts")?,
        max_attempts: row.try_get("", "max_attempts")?,
        run_at: row.try_get("", "run_at")?,
        lease_until: row.try_get("", "lease_until")?,
        locked_by: row.try_get("", "locked_by")?,
        last_error: row.try_get("", "last_error")?,
        org_id: row.try_get("", "org_id")?,
    })
}
