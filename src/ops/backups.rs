//! Backups while the server runs. Scheduled ones are a job on the durable queue (one per period, whichever
//! replica claims it); `bwenge backup` asks a running server through `POST /ops/backup` when it cannot open the
//! data itself (the embedded vector engine is locked by the server that has it open). That route is for the
//! machine's operator only: its bearer token is a key in the data dir's `secrets/`, readable by whoever may read
//! the data anyway.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;

use crate::error::{ApiError, ErrorBody};
use crate::platform::jobs::{self, Job, JobError, JobHandler, JobRegistry};
use crate::platform::{Backends, backup, signing};

pub const KIND: &str = "ops.backup";

/// The operator's token for `POST /ops/backup`, kept in `<data_dir>/secrets/ops.key`.
#[derive(Clone)]
pub struct OpsToken(Arc<str>);

impl OpsToken {
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let key = signing::load_or_create_key(&data_dir.join("secrets").join("ops.key"))?;
        Ok(Self(hex::encode(key).into()))
    }

    fn admits(&self, request: &HttpRequest) -> bool {
        let given = request.headers().get("authorization").and_then(|v| v.to_str().ok());
        let Some(given) = given.and_then(|v| v.strip_prefix("Bearer ")) else { return false };
        // Compared in constant time: the token is a secret.
        given.len() == self.0.len() && given.bytes().zip(self.0.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Take a backup
///
/// The whole instance as one archive (`application/gzip`), for the machine's operator: the bearer token is the
/// hex of `<data_dir>/secrets/ops.key`. `bwenge backup` calls this when the server holds the data.
// No `security` entry: this is no user's route (roles do not apply); like `/metrics` it checks its own token.
#[utoipa::path(post, path = "/ops/backup", tag = "ops", operation_id = "create_backup",
    responses((status = 200, description = "the archive", content_type = "application/gzip", body = Vec<u8>),
        (status = 401, description = "`unauthorized`: not the operator's token", body = ErrorBody)))]
pub async fn create(
    request: HttpRequest,
    backends: web::Data<Backends>,
    token: web::Data<OpsToken>,
) -> Result<HttpResponse, ApiError> {
    if !token.admits(&request) {
        return Err(ApiError::unauthorized("unauthorized", "this route takes the operator's token (secrets/ops.key)"));
    }
    let dir = backends.config.backup.dir(&backends.config.server.data_dir);
    std::fs::create_dir_all(&dir).map_err(|e| ApiError::internal(&e.into()))?;
    let path = dir.join(format!(".requested-{}.tar.gz", uuid::Uuid::new_v4().simple()));
    let manifest = backup::create(backends.get_ref().into(), &path).await.map_err(|e| ApiError::internal(&e))?;
    let file = tokio::fs::File::open(&path).await.map_err(|e| ApiError::internal(&e.into()))?;
    let size = file.metadata().await.map_err(|e| ApiError::internal(&e.into()))?.len();
    // The open handle keeps the bytes readable; nothing is left behind if the client goes away.
    let _ = tokio::fs::remove_file(&path).await;
    let body = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0u8; 256 << 10];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buffer)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/gzip")
        .insert_header(("x-backup-points", manifest.vector_points.to_string()))
        .body(actix_web::body::SizedStream::new(size, body)))
}

struct BackupJob {
    backends: Backends,
}

#[async_trait::async_trait]
impl JobHandler for BackupJob {
    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        let written = scheduled(&self.backends).await.map_err(JobError::Retry)?;
        tracing::info!(archive = %written.display(), "scheduled backup done");
        Ok(())
    }
}

/// One scheduled backup now: `bwenge-<time>.tar.gz` in the backup dir, then all but the newest `keep` deleted.
pub async fn scheduled(backends: &Backends) -> anyhow::Result<PathBuf> {
    let settings = &backends.config.backup;
    let dir = settings.dir(&backends.config.server.data_dir);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("bwenge-{}.tar.gz", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")));
    backup::create(backends.into(), &path).await?;
    let mut kept: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("bwenge-") && n.ends_with(".tar.gz"))
        })
        .collect();
    // The names sort by time.
    kept.sort();
    let excess = kept.len().saturating_sub(settings.keep.max(1));
    for old in &kept[..excess] {
        std::fs::remove_file(old)?;
        tracing::info!(archive = %old.display(), "old backup deleted");
    }
    Ok(path)
}

/// Registers the backup job and, when `backup.interval_hours` is set, queues one per period (every replica
/// queues; the period's dedupe key makes it one job).
pub fn init(backends: &Backends, jobs: &mut JobRegistry) {
    jobs.register(KIND, Arc::new(BackupJob { backends: backends.clone() }));
    let hours = backends.config.backup.interval_hours;
    if hours > 0 {
        let period = Duration::from_secs(hours.saturating_mul(3600));
        jobs::every(backends.jobs.clone(), backends.db.clone(), KIND, period);
    }
}
