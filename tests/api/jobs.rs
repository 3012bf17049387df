//! The durable job queue against the real database (SQLite, or Postgres with TEST_DATABASE_URL).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bwenge::platform::db;
use bwenge::platform::jobs::{
    Job, JobError, JobHandler, JobQueue, JobRegistry, JobStatus, NewJob, Outcome, Worker, now_ms,
};
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestApp, spawn_app_with};

const KIND: &str = "test.probe";

fn new_job(n: usize) -> NewJob {
    NewJob { kind: KIND.into(), payload: serde_json::json!({ "n": n }), org_id: None, dedupe_key: None }
}

fn worker(app: &TestApp, name: &str, handler: Arc<dyn JobHandler>) -> Worker {
    worker_on(app.backends.jobs.clone(), name, handler)
}

fn worker_on(queue: JobQueue, name: &str, handler: Arc<dyn JobHandler>) -> Worker {
    let mut registry = JobRegistry::default();
    registry.register(KIND, handler);
    Worker::new(name.into(), queue, Arc::new(registry), None)
}

/// Records which jobs are running right now and how often each ran.
#[derive(Default)]
struct ConcurrencyProbe {
    running: Mutex<HashSet<uuid::Uuid>>,
    runs: Mutex<HashMap<uuid::Uuid, u32>>,
    overlaps: Mutex<u32>,
}

#[async_trait::async_trait]
impl JobHandler for ConcurrencyProbe {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        if !self.running.lock().unwrap().insert(job.id) {
            *self.overlaps.lock().unwrap() += 1;
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
        self.running.lock().unwrap().remove(&job.id);
        *self.runs.lock().unwrap().entry(job.id).or_default() += 1;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_never_run_the_same_job_at_once() {
    let app = spawn_app_with(|_| {}).await;
    let mut ids = Vec::new();
    for n in 0..60 {
        ids.push(app.backends.jobs.enqueue(new_job(n)).await.unwrap());
    }
    let probe = Arc::new(ConcurrencyProbe::default());
    let abort = CancellationToken::new();
    let mut tasks = Vec::new();
    for name in ["w1", "w2", "w3", "w4"] {
        let worker = worker(&app, name, probe.clone());
        let abort = abort.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while let Some((_, outcome)) = worker.run_one(&abort).await.unwrap() {
                assert_eq!(outcome, Outcome::Succeeded);
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 60, "every job ran once across the workers");
    assert_eq!(*probe.overlaps.lock().unwrap(), 0, "no job ran twice at the same time");
    let runs = probe.runs.lock().unwrap().clone();
    for id in &ids {
        assert_eq!(runs.get(id), Some(&1), "job {id} ran exactly once");
        let job = app.backends.jobs.get(*id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Succeeded);
        assert_eq!(job.attempts, 1);
    }
}

struct Hangs;

#[async_trait::async_trait]
impl JobHandler for Hangs {
    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        std::future::pending().await
    }
}

struct Succeeds;

#[async_trait::async_trait]
impl JobHandler for Succeeds {
    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_job_whose_process_died_runs_again_after_its_lease_expires() {
    let app = spawn_app_with(|s| s.jobs.lease_secs = 60).await;
    let id = app.backends.jobs.enqueue(new_job(1)).await.unwrap();

    // "Process A" claims the job and dies mid-run: its task is dropped, nothing is released.
    let doomed = worker(&app, "process-a", Arc::new(Hangs));
    let running = tokio::spawn(async move { doomed.run_one(&CancellationToken::new()).await });
    wait_until(|| async { app.backends.jobs.get(id).await.unwrap().unwrap().status == JobStatus::Running }).await;
    running.abort();
    let held = app.backends.jobs.get(id).await.unwrap().unwrap();
    assert_eq!(held.locked_by.as_deref(), Some("process-a"));

    // "Process B" starts with its own connection pool, as after a restart.
    let restarted = JobQueue::new(db::connect(&app.settings).await.unwrap(), app.settings.jobs.clone());
    let survivor = worker_on(restarted, "process-b", Arc::new(Succeeds));
    let none = CancellationToken::new();
    // Judged on the lease's own clock, not the machine's speed: held until `lease_until`, free after it.
    let until = held.lease_until.expect("a running job has a lease");
    assert!(survivor.run_one_at(until - 1, &none).await.unwrap().is_none(), "the lease still holds");
    let outcome = survivor.run_one_at(until + 1, &none).await.unwrap().map(|(_, o)| o);
    assert_eq!(outcome, Some(Outcome::Succeeded), "the job ran again once the lease expired");
    let job = app.backends.jobs.get(id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.attempts, 2);
}

/// Counts its steps, one every 50 ms, 40 in all.
#[derive(Default)]
struct Steps(std::sync::atomic::AtomicU32);

#[async_trait::async_trait]
impl JobHandler for Steps {
    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_worker_that_loses_its_lease_stops_the_job() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app_with(|s| s.jobs.lease_secs = 1).await;
    let id = app.backends.jobs.enqueue(new_job(1)).await.unwrap();
    let steps = Arc::new(Steps::default());
    let stalled = worker(&app, "process-a", steps.clone());
    let running = tokio::spawn(async move { stalled.run_one(&CancellationToken::new()).await });
    wait_until(|| async { steps.0.load(std::sync::atomic::Ordering::SeqCst) >= 2 }).await;
    // Another worker took the job over (as when A stalls past its lease): A's next renewal finds it gone.
    let backend = app.backends.db.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "UPDATE jobs SET locked_by = 'process-b' WHERE id = $1"
    } else {
        "UPDATE jobs SET locked_by = 'process-b' WHERE id = ?"
    };
    app.backends.db.execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, [id.into()])).await.unwrap();
    let (_, outcome) = running.await.unwrap().unwrap().unwrap();
    assert_eq!(outcome, Outcome::LeaseLost);
    let done = steps.0.load(std::sync::atomic::Ordering::SeqCst);
    assert!(done < 40, "A stopped instead of running to the end beside its successor ({done} steps)");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(steps.0.load(std::sync::atomic::Ordering::SeqCst), done, "and wrote nothing more");
    let job = app.backends.jobs.get(id).await.unwrap().unwrap();
    assert_eq!((job.status, job.locked_by.as_deref()), (JobStatus::Running, Some("process-b")), "B's, untouched");
}

struct AlwaysFails;

#[async_trait::async_trait]
impl JobHandler for AlwaysFails {
    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        Err(JobError::Retry(anyhow::anyhow!("upstream answered 503")))
    }
}

#[tokio::test]
async fn a_failing_job_retries_with_growing_backoff_then_goes_dead() {
    let app = spawn_app_with(|s| {
        s.jobs.max_attempts = 3;
        s.jobs.backoff_base_ms = 10_000;
    })
    .await;
    let id = app.backends.jobs.enqueue(new_job(1)).await.unwrap();
    let worker = worker(&app, "w", Arc::new(AlwaysFails));
    let abort = CancellationToken::new();

    let t0 = now_ms();
    assert_eq!(worker.run_one_at(t0, &abort).await.unwrap().unwrap().1, Outcome::Retrying);
    let first = app.backends.jobs.get(id).await.unwrap().unwrap();
    assert_eq!((first.status, first.attempts), (JobStatus::Queued, 1));
    assert_eq!(first.last_error.as_deref(), Some("upstream answered 503"));
    let delay1 = first.run_at - t0;
    assert!((8_000..=12_500).contains(&delay1), "first retry after ~10 s, got {delay1} ms");
    assert!(worker.run_one_at(t0 + 1, &abort).await.unwrap().is_none(), "not due before its backoff");

    assert_eq!(worker.run_one_at(first.run_at, &abort).await.unwrap().unwrap().1, Outcome::Retrying);
    let second = app.backends.jobs.get(id).await.unwrap().unwrap();
    let delay2 = second.run_at - first.run_at;
    assert!((16_000..=24_500).contains(&delay2), "second retry after ~20 s, got {delay2} ms");

    assert_eq!(worker.run_one_at(second.run_at, &abort).await.unwrap().unwrap().1, Outcome::Dead);
    let dead = app.backends.jobs.get(id).await.unwrap().unwrap();
    assert_eq!((dead.status, dead.attempts), (JobStatus::Dead, 3));
    assert!(dead.locked_by.is_none() && dead.lease_until.is_none());
    let far_future = second.run_at + 86_400_000;
    assert!(worker.run_one_at(far_future, &abort).await.unwrap().is_none(), "a dead job never runs again");
}

struct FailsForGood;

#[async_trait::async_trait]
impl JobHandler for FailsForGood {
    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        Err(JobError::Permanent(anyhow::anyhow!("file is corrupt")))
    }
}

#[tokio::test]
async fn a_permanent_error_goes_dead_at_once() {
    let app = spawn_app_with(|_| {}).await;
    let id = app.backends.jobs.enqueue(new_job(1)).await.unwrap();
    let outcome = worker(&app, "w", Arc::new(FailsForGood)).run_one(&CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.unwrap().1, Outcome::Dead);
    let job = app.backends.jobs.get(id).await.unwrap().unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Dead, 1));
}

#[tokio::test]
async fn shutdown_hands_a_running_job_back_without_counting_the_attempt() {
    let app = spawn_app_with(|_| {}).await;
    let id = app.backends.jobs.enqueue(new_job(1)).await.unwrap();
    let worker = worker(&app, "w", Arc::new(Hangs));
    let abort = CancellationToken::new();
    let trigger = abort.clone();
    let step = tokio::spawn(async move { worker.run_one(&abort).await });
    wait_until(|| async { app.backends.jobs.get(id).await.unwrap().unwrap().status == JobStatus::Running }).await;
    trigger.cancel();
    assert_eq!(step.await.unwrap().unwrap().unwrap().1, Outcome::Released);
    let job = app.backends.jobs.get(id).await.unwrap().unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Queued, 0));
    assert!(job.locked_by.is_none());
}

#[tokio::test]
async fn enqueueing_the_same_dedupe_key_twice_gives_one_job_until_it_ends() {
    let app = spawn_app_with(|_| {}).await;
    let job = || NewJob { dedupe_key: Some("doc:42".into()), ..new_job(1) };
    let a = app.backends.jobs.enqueue(job()).await.unwrap();
    let b = app.backends.jobs.enqueue(job()).await.unwrap();
    assert_eq!(a, b);
    worker(&app, "w", Arc::new(Succeeds)).run_one(&CancellationToken::new()).await.unwrap();
    let c = app.backends.jobs.enqueue(job()).await.unwrap();
    assert_ne!(a, c, "a finished job frees its key for new work");
}

async fn wait_until<F, Fut>(mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met within 2 s");
}

/// Fails every time and remembers which jobs were reported dead.
#[derive(Default)]
struct FailsAndReports {
    dead: Mutex<Vec<uuid::Uuid>>,
}

#[async_trait::async_trait]
impl JobHandler for FailsAndReports {
    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        Err(JobError::Retry(anyhow::anyhow!("still broken")))
    }

    async fn on_dead(&self, job: &Job) {
        assert_eq!(job.last_error.as_deref(), Some("still broken"));
        self.dead.lock().unwrap().push(job.id);
    }
}

#[tokio::test]
async fn the_handler_hears_when_its_job_goes_dead() {
    let app = spawn_app_with(|s| s.jobs.max_attempts = 2).await;
    let id = app.backends.jobs.enqueue(new_job(1)).await.unwrap();
    let handler = Arc::new(FailsAndReports::default());
    let worker = worker(&app, "w", handler.clone());
    let abort = CancellationToken::new();
    let first = worker.run_one_at(now_ms(), &abort).await.unwrap().unwrap().0;
    assert!(handler.dead.lock().unwrap().is_empty(), "not dead after one attempt");
    let retry_at = app.backends.jobs.get(first.id).await.unwrap().unwrap().run_at;
    assert_eq!(worker.run_one_at(retry_at, &abort).await.unwrap().unwrap().1, Outcome::Dead);
    assert_eq!(*handler.dead.lock().unwrap(), vec![id]);
}

#[tokio::test]
async fn an_idle_worker_wakes_when_a_job_is_enqueued_instead_of_waiting_out_its_poll() {
    let app = spawn_app_with(|s| s.jobs.poll_interval_ms = 600_000).await;
    // A queue of its own: the app's workers (which do not know this kind) must not take the wake-up.
    let queue = JobQueue::new(app.backends.db.clone(), app.settings.jobs.clone());
    let worker = worker_on(queue.clone(), "w", Arc::new(Succeeds));
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone(), CancellationToken::new()));
    tokio::time::sleep(Duration::from_millis(50)).await; // the worker found nothing and went idle
    let id = queue.enqueue(new_job(1)).await.unwrap();
    wait_until(|| async { queue.get(id).await.unwrap().unwrap().status == JobStatus::Succeeded }).await;
    stop.cancel();
    running.await.unwrap();
}
