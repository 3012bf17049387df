//! [`Backends`]: every outside system a domain may use, opened once per process from the configuration. Each is
//! the embedded default unless the configuration names a distributed one (see ARCHITECTURE.md's table). Domains
//! build their own state from it in their `init`; nothing here knows a domain.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sea_orm::DatabaseConnection;

use super::db;
use super::events::LocalBus;
use super::jobs::JobQueue;
use super::leases::{Leases, MemoryLeases, RedisLeases};
use super::llm::chat::{ChatProvider, OpenAiChat, OpenAiChatConfig};
use super::llm::embeddings::{Embedder, LocalEmbedder, OpenAiEmbedder, OpenAiEmbedderConfig, fetch};
use super::llm::transcription::{OpenAiTranscriber, OpenAiTranscriberConfig, Transcriber};
use super::mail::Mailer;
use super::metrics::Metrics;
use super::pubsub::{MemoryPubSub, PubSub, RedisPubSub};
use super::ratelimit::{MemoryRateLimiter, RateLimiter, RedisRateLimiter};
use super::redis::Redis;
use super::storage::Storage;
use super::vectors::{VectorStore, edge::EdgeVectorStore, server::QdrantVectorStore};
use crate::config::{ModelPrecision, Settings, secret_opt};

/// Cheap to clone: every member is a handle.
#[derive(Clone)]
pub struct Backends {
    pub config: Arc<Settings>,
    pub db: DatabaseConnection,
    pub objects: Storage,
    pub vectors: Arc<dyn VectorStore>,
    /// `None`: one replica, everything in process.
    pub redis: Option<Redis>,
    pub rate_limiter: Arc<dyn RateLimiter>,
    pub pubsub: Arc<dyn PubSub>,
    /// Events handled once, in this process (see `events`).
    pub local_events: Arc<LocalBus>,
    pub leases: Arc<dyn Leases>,
    pub jobs: JobQueue,
    pub metrics: Arc<Metrics>,
    /// `None`: no embedding model, so retrieval is sparse (BM25) only; said loudly at start and in `/readyz`.
    pub embeddings: Option<Arc<dyn Embedder>>,
    /// Why there is no embedding model, in words for an administrator (`/readyz`, the admin page).
    pub embeddings_missing: Option<String>,
    /// `None` when `llm.base_url` is empty: answers then come from the extractive tutor, never from a fake.
    pub llm: Option<Arc<dyn ChatProvider>>,
    /// `None`: no transcription provider, so audio and video documents fail with `transcription_unavailable`.
    pub transcription: Option<Arc<dyn Transcriber>>,
    /// `None` without `smtp.url`: nothing is mailed.
    pub mail: Option<Mailer>,
    /// Names this process (job leases say which replica holds them).
    pub instance_id: String,
}

impl Backends {
    /// Opens (and migrates) every configured backend.
    pub async fn open(settings: Settings) -> anyhow::Result<Self> {
        let data_dir = settings.server.data_dir.clone();
        std::fs::create_dir_all(&data_dir).with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let db = db::connect(&settings).await?;
        db::migrate(&db).await?;
        let objects = Storage::open(&settings.storage.url, &data_dir)?;
        let vectors: Arc<dyn VectorStore> = match settings.vectors_url() {
            Some(url) => Arc::new(
                QdrantVectorStore::connect(url, secret_opt(&settings.vectors.api_key), &settings.vectors.collection)
                    .context("connecting to the Qdrant server")?,
            ),
            None => Arc::new(
                EdgeVectorStore::open(&data_dir.join("vectors"), settings.embeddings.dimensions)
                    .context("opening the embedded vector engine")?,
            ),
        };
        vectors.ensure_collection(settings.embeddings.dimensions).await.context("preparing the vector collection")?;
        let redis = match settings.redis_url() {
            Some(url) => Some(Redis::connect(url, &settings.redis.prefix)?),
            None => None,
        };
        let (rate_limiter, pubsub, leases): (Arc<dyn RateLimiter>, Arc<dyn PubSub>, Arc<dyn Leases>) = match &redis {
            Some(redis) => (
                Arc::new(RedisRateLimiter::new(redis.clone())),
                Arc::new(RedisPubSub::new(redis.clone())),
                Arc::new(RedisLeases::new(redis.clone())),
            ),
            None => (
                Arc::new(MemoryRateLimiter::default()),
                Arc::new(MemoryPubSub::default()),
                Arc::new(MemoryLeases::default()),
            ),
        };
        let metrics = Arc::new(Metrics::new().context("registering metrics")?);
        let (embeddings, embeddings_missing) = open_embeddings(&settings).await?;
        let llm = open_llm(&settings)?;
        let transcription = open_transcription(&settings)?;
        let mail = Mailer::from_settings(&settings.smtp).context("configuring outgoing mail")?;
        let jobs = JobQueue::new(db.clone(), settings.jobs.clone());
        let instance_id = format!("{}-{}", hostname(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
        tracing::info!(
            database = db::backend_name(&db),
            vectors = vectors.backend(),
            storage = objects.backend(),
            redis = redis.is_some(),
            llm = llm.as_ref().map_or("none (extractive tutor)", |l| l.default_model()),
            data_dir = %data_dir.display(),
            "backends ready"
        );
        Ok(Self {
            config: Arc::new(settings),
            db,
            objects,
            vectors,
            redis,
            rate_limiter,
            pubsub,
            local_events: Arc::new(LocalBus::default()),
            leases,
            jobs,
            metrics,
            embeddings,
            embeddings_missing,
            llm,
            transcription,
            mail,
            instance_id,
        })
    }
}

/// The configured embedding provider, or why there is none. The local model is fetched on first run (unless
/// `embeddings.fetch` is off). A missing model is not fatal (search falls back to BM25), but it is announced as
/// an error, because retrieval quality drops sharply without it.
async fn open_embeddings(settings: &Settings) -> anyhow::Result<(Option<Arc<dyn Embedder>>, Option<String>)> {
    let e = &settings.embeddings;
    match e.provider.as_str() {
        "local" => {
            let dir = settings.model_dir();
            let fetched = if fetch::model_present(&dir) || !e.fetch {
                Ok(())
            } else {
                fetch::fetch_model(&fetch::ModelSource::pinned(&e.fetch_url), &dir).await
            };
            let why = match (fetched, LocalEmbedder::new(&dir)) {
                (_, Ok(local)) => {
                    let local =
                        local.with_batch_size(e.batch_size.max(1)).with_int8(e.precision == ModelPrecision::Int8);
                    return Ok((Some(Arc::new(local)), None));
                }
                (Err(err), _) => format!("the embedding model could not be fetched: {err:#}"),
                (Ok(()), Err(_)) => format!(
                    "no embedding model at {} and embeddings.fetch is off: run `bwenge model fetch` or set \
                     embeddings.model_dir",
                    dir.display()
                ),
            };
            tracing::error!(model_dir = %dir.display(), "NO EMBEDDING MODEL: search runs on BM25 only. {why}");
            Ok((None, Some(format!("search is BM25-only: {why}"))))
        }
        "openai" => {
            let mut config = OpenAiEmbedderConfig::new(&e.base_url, &e.model, e.dimensions);
            config.api_key = secret_opt(&e.api_key).unwrap_or_default().to_owned();
            config.batch_size = e.batch_size.max(1);
            config.base64 = e.base64;
            let embedder = OpenAiEmbedder::new(config).context("configuring the embeddings endpoint")?;
            Ok((Some(Arc::new(embedder)), None))
        }
        other => anyhow::bail!("embeddings.provider must be \"local\" or \"openai\", not {other:?}"),
    }
}

/// The chat model endpoint, when one is configured. A bad setting stops the start: a tutor that would fail every
/// answer is worse than one that does not start.
fn open_llm(settings: &Settings) -> anyhow::Result<Option<Arc<dyn ChatProvider>>> {
    let l = &settings.llm;
    if l.base_url.trim().is_empty() {
        return Ok(None);
    }
    let mut config = OpenAiChatConfig::new(&l.base_url, secret_opt(&l.api_key).unwrap_or_default(), &l.model);
    config.connect_timeout = Duration::from_secs(l.connect_timeout_secs.max(1));
    config.first_token_timeout = Duration::from_secs(l.first_token_timeout_secs);
    config.max_retries = l.max_retries;
    config.max_tokens_param = l.max_tokens_param;
    let chat = OpenAiChat::new(config).context("configuring the chat model endpoint (llm.*)")?;
    Ok(Some(Arc::new(chat)))
}

/// The configured speech-to-text endpoint, if any. Settings that cannot work (a malformed URL) stop start-up
/// rather than fail every recording later.
fn open_transcription(settings: &Settings) -> anyhow::Result<Option<Arc<dyn Transcriber>>> {
    let t = &settings.transcription;
    if t.base_url.trim().is_empty() {
        tracing::info!(
            "no transcription provider: audio and video uploads will fail until transcription.base_url is set"
        );
        return Ok(None);
    }
    let config = OpenAiTranscriberConfig {
        base_url: t.base_url.clone(),
        api_key: secret_opt(&t.api_key).unwrap_or_default().to_owned(),
        model: t.model.clone(),
        language: Some(t.language.clone()),
        timeout: Duration::from_secs(t.timeout_secs.max(1)),
    };
    let transcriber = OpenAiTranscriber::new(config).context("configuring the transcription endpoint")?;
    tracing::info!(provider = transcriber.name(), "transcription ready");
    Ok(Some(Arc::new(transcriber)))
}

fn hostname() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "bwenge".into())
}
