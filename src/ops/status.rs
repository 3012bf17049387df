//! `bwenge status`: what an operator checks first. Every backend (reachable or not, and which), the schema, the
//! job queue's depth and failures, the data dir's disk use and the local model. Exits non-zero when a configured
//! backend does not answer, so scripts can use it as a check.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::config::Settings;
use crate::platform::jobs::JobQueue;
use crate::platform::{backup, db, redis::Redis, storage::Storage};

#[derive(Debug, Serialize)]
pub struct Status {
    pub version: &'static str,
    pub server: String,
    pub components: Vec<Component>,
    pub jobs: Vec<(String, i64)>,
    pub data_dir: String,
    pub data_dir_bytes: u64,
    pub ok: bool,
}

#[derive(Debug, Serialize)]
pub struct Component {
    pub name: &'static str,
    pub backend: String,
    pub ok: bool,
    pub detail: String,
}

impl Component {
    fn new(name: &'static str, backend: impl Into<String>, result: anyhow::Result<String>) -> Self {
        let backend = backend.into();
        match result {
            Ok(detail) => Self { name, backend, ok: true, detail },
            Err(err) => Self { name, backend, ok: false, detail: format!("{err:#}") },
        }
    }
}

pub async fn status(settings: &Settings) -> Status {
    let data_dir = &settings.server.data_dir;
    let server = probe_server(settings.server.port).await;
    let mut components = Vec::new();
    let mut jobs = Vec::new();
    match db::connect(settings).await {
        Ok(database) => {
            let detail = async {
                db::health(&database).await?;
                let schema = backup::schema_of(&database).await?;
                let version = server_version(&database).await.unwrap_or_else(|_| "?".into());
                let rows = backup::row_counts(&database).await?;
                let count = |t: &str| rows.get(t).copied().unwrap_or(0);
                Ok(format!(
                    "{version}, schema {schema}; {} orgs, {} users, {} documents, {} chunks",
                    count("orgs"),
                    count("users"),
                    count("documents"),
                    count("chunks")
                ))
            }
            .await;
            components.push(Component::new("database", db::backend_name(&database), detail));
            match JobQueue::new(database.clone(), settings.jobs.clone()).depth().await {
                Ok(depth) => jobs = depth,
                Err(err) => components.push(Component::new("jobs", "database", Err(err))),
            }
        }
        Err(err) => components.push(Component::new("database", "?", Err(err))),
    }
    let vectors_backend = if settings.vectors_url().is_some() { "qdrant" } else { "embedded" };
    let vectors = async {
        let store = match backup::open_vectors(settings) {
            Ok(store) => store,
            Err(err) if format!("{err:#}").contains("already open") => {
                return Ok("in use by the server running on this data dir (its /readyz checks it)".to_owned());
            }
            Err(err) => return Err(err),
        };
        store.health().await?;
        let documents = store.document_ids(1_000_000).await?.len();
        Ok(format!("{documents} documents with vectors"))
    }
    .await;
    components.push(Component::new("vectors", vectors_backend, vectors));
    let files = async {
        let storage = Storage::open(&settings.storage.url, data_dir)?;
        storage.health().await?;
        Ok::<_, anyhow::Error>((storage.backend(), format!("{} files", storage.list("").await?.len())))
    }
    .await;
    match files {
        Ok((backend, detail)) => components.push(Component::new("storage", backend, Ok(detail))),
        Err(err) => components.push(Component::new("storage", "?", Err(err))),
    }
    if let Some(url) = settings.redis_url() {
        let ping = async {
            Redis::connect(url, &settings.redis.prefix)?.health().await?;
            Ok("answers".to_owned())
        };
        components.push(Component::new("redis", "redis", ping.await));
    }
    components.push(model(settings));
    let ok = components.iter().all(|c| c.ok);
    Status {
        version: env!("CARGO_PKG_VERSION"),
        server,
        components,
        jobs,
        data_dir: data_dir.display().to_string(),
        data_dir_bytes: disk_use(data_dir),
        ok,
    }
}

/// The database server's own version line.
async fn server_version(database: &sea_orm::DatabaseConnection) -> anyhow::Result<String> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let backend = database.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => "SELECT 'SQLite ' || sqlite_version()",
        _ => "SELECT split_part(version(), ' on ', 1)",
    };
    let row = database.query_one_raw(Statement::from_string(backend, sql)).await?;
    Ok(row.map(|r| r.try_get_by_index::<String>(0)).transpose()?.unwrap_or_default())
}

/// A missing model is not a failure (search runs BM25-only), so the component stays ok and says so.
fn model(settings: &Settings) -> Component {
    if settings.embeddings.provider != "local" {
        let detail = format!("{} at {}", settings.embeddings.model, settings.embeddings.base_url);
        return Component::new("embeddings", settings.embeddings.provider.clone(), Ok(detail));
    }
    let dir = settings.model_dir();
    let weights = dir.join("model.safetensors");
    let detail = match std::fs::metadata(&weights) {
        Ok(meta) => format!("all-MiniLM-L6-v2 in {} ({:.1} MB)", dir.display(), meta.len() as f64 / 1e6),
        Err(_) => format!("missing from {}: `bwenge model fetch` (or the first `serve`) fetches it", dir.display()),
    };
    Component::new("embeddings", "local", Ok(detail))
}

async fn probe_server(port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}/readyz");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build();
    let Ok(client) = client else { return "unknown".into() };
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => format!("running on port {port}, ready"),
        Ok(response) => format!("running on port {port}, not ready ({})", response.status()),
        Err(_) => format!("not running on port {port}"),
    }
}

fn disk_use(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => disk_use(&entry.path()),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "bwenge {}: {}", self.version, if self.ok { "ok" } else { "PROBLEMS" })?;
        writeln!(f, "  {:<11} {}", "server", self.server)?;
        for c in &self.components {
            let mark = if c.ok { "ok " } else { "ERR" };
            writeln!(f, "  {:<11} {mark} {:<9} {}", c.name, c.backend, c.detail)?;
        }
        let jobs: Vec<String> = self.jobs.iter().map(|(status, n)| format!("{n} {status}")).collect();
        let jobs = if jobs.is_empty() { "none".to_owned() } else { jobs.join(", ") };
        writeln!(f, "  {:<11} {jobs}", "jobs")?;
        write!(f, "  {:<11} {} ({:.1} MB)", "data dir", self.data_dir, self.data_dir_bytes as f64 / 1e6)
    }
}
