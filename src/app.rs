//! `Application::build`: opens every backend, registers all shared state in one place, and mounts the
//! domains behind one router.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use sea_orm::DatabaseConnection;
use tracing_actix_web::TracingLogger;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::JwtKeys;
use crate::config::{Settings, secret_opt};
use crate::http;
use crate::platform::db;
use crate::platform::jobs::{JobQueue, JobRegistry, JobRunner};
use crate::platform::leases::{Leases, MemoryLeases, RedisLeases};
use crate::platform::llm::chat::{ChatProvider, OpenAiChat, OpenAiChatConfig};
use crate::platform::llm::embeddings::{Embedder, LocalEmbedder, OpenAiEmbedder, OpenAiEmbedderConfig};
use crate::platform::llm::transcription::{OpenAiTranscriber, OpenAiTranscriberConfig, Transcriber};
use crate::platform::metrics::Metrics;
use crate::platform::pubsub::{MemoryPubSub, PubSub, RedisPubSub};
use crate::platform::ratelimit::{MemoryRateLimiter, RateLimiter, RedisRateLimiter};
use crate::platform::redis::Redis;
use crate::platform::storage::Storage;
use crate::platform::vectors::{VectorStore, edge::EdgeVectorStore, server::QdrantVectorStore};

/// Everything a request or a job may need, built once per process.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub storage: Storage,
    pub vectors: Arc<dyn VectorStore>,
    pub redis: Option<Redis>,
    pub rate_limiter: Arc<dyn RateLimiter>,
    pub pubsub: Arc<dyn PubSub>,
    pub jobs: JobQueue,
    pub metrics: Arc<Metrics>,
    pub jwt: Arc<JwtKeys>,
    /// `None`: no embedding model, so retrieval is sparse (BM25) only; said loudly at start and in `/readyz`.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// `None` when `llm.base_url` is empty: answers then come from the extractive tutor, never from a fake.
    pub llm: Option<Arc<dyn ChatProvider>>,
    /// `None`: no transcription provider, so audio and video documents fail with `transcription_unavailable`.
    pub transcriber: Option<Arc<dyn Transcriber>>,
    /// Live chat events of this replica's connections, shared with the others through `pubsub`.
    pub chat: Arc<crate::chat::ChatHub>,
    /// Names this process's job workers, so a lease in the table says which replica holds it.
    pub instance_id: String,
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    runner: JobRunner,
    grace: Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        crate::platform::tls::install_crypto_provider();
        let state = web::Data::new(open_state(settings).await?);
        let mut registry = JobRegistry::default();
        crate::ingest::register_jobs(&mut registry, state.clone().into_inner());
        Self::start(state, registry)
    }

    fn start(state: web::Data<AppState>, registry: JobRegistry) -> anyhow::Result<Self> {
        let settings = state.settings.clone();
        crate::chat::forward_document_events(&state.clone().into_inner());
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address).with_context(|| format!("binding {address}"))?;
        let port = listener.local_addr()?.port();
        let grace = Duration::from_secs(settings.server.shutdown_timeout_secs);
        let openapi = crate::openapi::document();
        let metrics = web::Data::from(state.metrics.clone());
        let max_json = settings.server.max_json_bytes;
        let cors_origins = settings.server.cors_origins.clone();
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(metrics.clone())
                .app_data(http::json_config(max_json))
                .app_data(http::query_config())
                .app_data(http::path_config())
                .configure(crate::ops::configure)
                .service(
                    web::scope("/api/v1")
                        .configure(crate::auth::configure)
                        .configure(crate::ingest::configure)
                        .configure(crate::persona::configure)
                        .configure(crate::chat::configure),
                )
                .service(SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi.json", openapi.clone()))
                .route(
                    "/api/docs",
                    web::get().to(|| async {
                        HttpResponse::PermanentRedirect().insert_header(("location", "/api/docs/")).finish()
                    }),
                )
                .default_service(web::to(http::not_found))
                .wrap(http::cors(&cors_origins))
                .wrap(from_fn(http::request_context))
                .wrap(from_fn(http::security_headers))
                .wrap(TracingLogger::default())
                .wrap(from_fn(http::track_metrics))
        })
        .listen(listener)?
        // A client that closes its side has hung up: stop serving it, which drops its handler and so cancels a
        // chat answer nobody will read (actix otherwise keeps the request running to the end for a half-close).
        .h1_allow_half_closed(false)
        // Our own signal handling (main.rs) stops the server and the job workers together.
        .disable_signals()
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .run();
        let runner = JobRunner::start(
            &state.jobs,
            Arc::new(registry),
            Some(state.metrics.clone()),
            settings.jobs.workers,
            &state.instance_id,
        );
        tracing::info!(port, address = %settings.server.host, "bwenge listening");
        Ok(Self { port, server, state, runner, grace })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting, drains in-flight requests and job workers
    /// (both within the grace period) and flushes the vector store.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self { server, state, runner, grace, .. } = self;
        let handle = server.handle();
        let mut serving = tokio::spawn(server);
        let served = tokio::select! {
            served = &mut serving => {
                runner.shutdown(grace).await;
                served
            }
            () = shutdown => {
                tracing::info!(grace_secs = grace.as_secs(), "shutting down");
                let ((), ()) = tokio::join!(handle.stop(true), runner.shutdown(grace));
                serving.await
            }
        };
        if let Err(err) = state.vectors.flush().await {
            tracing::error!(error = ?err, "flushing the vector store at shutdown");
        }
        served.context("server task panicked")?.context("server failed")?;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn open_state(settings: Settings) -> anyhow::Result<AppState> {
    let data_dir = settings.server.data_dir.clone();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let db = db::connect(&settings).await?;
    db::migrate(&db).await?;
    let storage = Storage::open(&settings.storage.url, &data_dir)?;
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
    let (rate_limiter, pubsub): (Arc<dyn RateLimiter>, Arc<dyn PubSub>) = match &redis {
        Some(redis) => (Arc::new(RedisRateLimiter::new(redis.clone())), Arc::new(RedisPubSub::new(redis.clone()))),
        None => (Arc::new(MemoryRateLimiter::default()), Arc::new(MemoryPubSub::default())),
    };
    let leases: Arc<dyn Leases> = match &redis {
        Some(redis) => Arc::new(RedisLeases::new(redis.clone())),
        None => Arc::new(MemoryLeases::default()),
    };
    let lease_ttl = Duration::from_secs(settings.chat.turn_lease_secs);
    let chat = crate::chat::ChatHub::start(pubsub.clone(), leases, lease_ttl).await;
    let metrics = Arc::new(Metrics::new().context("registering metrics")?);
    let jwt = Arc::new(JwtKeys::load(&settings).context("loading the JWT signing key")?);
    let embedder = open_embedder(&settings)?;
    let llm = open_llm(&settings)?;
    let transcriber = open_transcriber(&settings)?;
    let jobs = JobQueue::new(db.clone(), settings.jobs.clone());
    let instance_id = format!("{}-{}", hostname(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
    tracing::info!(
        database = db::backend_name(&db),
        vectors = vectors.backend(),
        storage = storage.backend(),
        redis = redis.is_some(),
        llm = llm.as_ref().map_or("none (extractive tutor)", |l| l.default_model()),
        data_dir = %data_dir.display(),
        "backends ready"
    );
    Ok(AppState {
        settings: Arc::new(settings),
        db,
        storage,
        vectors,
        redis,
        rate_limiter,
        pubsub,
        jobs,
        metrics,
        jwt,
        embedder,
        llm,
        transcriber,
        chat,
        instance_id,
    })
}

/// The configured embedding provider. A missing local model is not fatal (search falls back to BM25), but it
/// is announced as an error, because retrieval quality drops sharply without it.
fn open_embedder(settings: &Settings) -> anyhow::Result<Option<Arc<dyn Embedder>>> {
    let e = &settings.embeddings;
    match e.provider.as_str() {
        "local" => {
            let dir = settings.model_dir();
            match LocalEmbedder::new(&dir) {
                Ok(local) => Ok(Some(Arc::new(local.with_batch_size(e.batch_size.max(1))))),
                Err(err) => {
                    tracing::error!(
                        model_dir = %dir.display(),
                        error = %err,
                        "NO EMBEDDING MODEL: search runs on BM25 only. Put all-MiniLM-L6-v2 there \
                         (`just model`) or set embeddings.model_dir"
                    );
                    Ok(None)
                }
            }
        }
        "openai" => {
            let mut config = OpenAiEmbedderConfig::new(&e.base_url, &e.model, e.dimensions);
            config.api_key = secret_opt(&e.api_key).unwrap_or_default().to_owned();
            config.batch_size = e.batch_size.max(1);
            config.base64 = e.base64;
            Ok(Some(Arc::new(OpenAiEmbedder::new(config).context("configuring the embeddings endpoint")?)))
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
fn open_transcriber(settings: &Settings) -> anyhow::Result<Option<Arc<dyn Transcriber>>> {
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
