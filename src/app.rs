//! `Application::build`: opens the backends, lets each domain build its state, and mounts the domains' routes and
//! OpenAPI from one list behind one router.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::config::Settings;
use crate::platform::Backends;
use crate::platform::jobs::{JobRegistry, JobRunner};
use crate::{analytics, auth, avatar, billing, chat, classes, http, ingest, openapi, ops, persona};

/// A domain as the router sees it: its part of the OpenAPI document, and how it registers its state and routes
/// under `/api/v1`.
pub struct Mount {
    pub openapi: utoipa::openapi::OpenApi,
    pub configure: Box<dyn Fn(&mut web::ServiceConfig) + Send + Sync>,
}

impl Mount {
    fn new<S: Send + Sync + 'static>(
        openapi: utoipa::openapi::OpenApi,
        service: S,
        configure: fn(&mut web::ServiceConfig, &S),
    ) -> Self {
        Self { openapi, configure: Box::new(move |cfg| configure(cfg, &service)) }
    }
}

/// Every domain's mount, and the domains the application itself drives (flushing analytics at shutdown).
struct Domains {
    mounts: Vec<Mount>,
    analytics: analytics::AnalyticsService,
}

/// Every domain, initialised in dependency order, as the one list the router and the OpenAPI document read.
async fn domains(backends: &Backends, jobs: &mut JobRegistry) -> anyhow::Result<Domains> {
    let billing = billing::init(backends).context("starting the billing domain (its plans, its Stripe client)")?;
    let auth = auth::init(backends, billing.clone())
        .context("starting the auth domain (its signing key, its trusted proxies)")?;
    let avatars = avatar::init(backends, auth.clone()).context("starting the avatar domain (its link signing key)")?;
    let ingest = ingest::init(backends, jobs, billing.clone());
    let personas = persona::init(backends, ingest.clone(), auth.clone(), billing.clone(), avatars.clone());
    avatars.linked_by(Arc::new(personas.clone()));
    let classes = classes::init(backends, auth.clone(), personas.clone());
    auth.keeps_user_data(Arc::new(classes.clone()));
    auth.enrols(Arc::new(classes.clone()));
    let analytics = analytics::init(
        backends,
        jobs,
        analytics::Neighbours {
            auth: auth.clone(),
            billing: billing.clone(),
            classes: classes.clone(),
            personas: personas.clone(),
            ingest: ingest.clone(),
        },
    )
    .context("starting the analytics domain (its time zone, its safety list)")?;
    auth.keeps_user_data(Arc::new(analytics.clone()));
    let neighbours = chat::Neighbours {
        auth: auth.clone(),
        ingest: ingest.clone(),
        personas: personas.clone(),
        avatars: avatars.clone(),
        billing: billing.clone(),
        classes: classes.clone(),
    };
    let chat = chat::init(backends, neighbours).await;
    auth.keeps_user_data(Arc::new(chat.clone()));
    let mounts = vec![
        Mount::new(auth::AuthApi::openapi(), auth, auth::configure),
        Mount::new(ingest::IngestApi::openapi(), ingest, ingest::configure),
        Mount::new(persona::PersonaApi::openapi(), personas, persona::configure),
        Mount::new(avatar::AvatarApi::openapi(), avatars, avatar::configure),
        Mount::new(classes::ClassApi::openapi(), classes, classes::configure),
        Mount::new(chat::ChatApi::openapi(), chat, chat::configure),
        Mount::new(analytics::AnalyticsApi::openapi(), analytics.clone(), analytics::configure),
        Mount::new(billing::BillingApi::openapi(), billing, billing::configure),
    ];
    Ok(Domains { mounts, analytics })
}

pub struct Application {
    port: u16,
    server: Server,
    backends: Backends,
    jobs: Arc<JobRegistry>,
    runner: JobRunner,
    grace: Duration,
    analytics: analytics::AnalyticsService,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        crate::platform::tls::install_crypto_provider();
        let backends = Backends::open(settings).await?;
        let mut jobs = JobRegistry::default();
        let Domains { mounts, analytics } = domains(&backends, &mut jobs).await?;
        ops::backups::init(&backends, &mut jobs);
        let ops_token = web::Data::new(
            ops::backups::OpsToken::load_or_create(&backends.config.server.data_dir)
                .context("creating the operator's token (secrets/ops.key)")?,
        );
        // The OpenAPI parts are only read to publish the document; the routes keep just their `configure`.
        let (parts, configures): (Vec<_>, Vec<_>) = mounts.into_iter().map(|m| (m.openapi, m.configure)).unzip();
        let document = web::Data::new(openapi::Published::new(parts).context("serialising the OpenAPI document")?);
        let configures = Arc::new(configures);
        let settings = backends.config.clone();
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address).with_context(|| format!("binding {address}"))?;
        let port = listener.local_addr()?.port();
        let grace = Duration::from_secs(settings.server.shutdown_timeout_secs);
        let (max_json, cors_origins) = (settings.server.max_json_bytes, settings.server.cors_origins.clone());
        let shared = web::Data::new(backends.clone());
        let metrics = web::Data::from(backends.metrics.clone());
        let csp = web::Data::new(http::Csp::for_settings(&settings)?);
        let server = HttpServer::new(move || {
            let configures = configures.clone();
            App::new()
                .app_data(shared.clone())
                .app_data(metrics.clone())
                .app_data(csp.clone())
                .app_data(ops_token.clone())
                .app_data(document.clone())
                .app_data(http::json_config(max_json))
                .app_data(http::query_config())
                .app_data(http::path_config())
                .configure(ops::configure)
                .service(web::scope("/api/v1").configure(move |cfg| {
                    for configure in configures.iter() {
                        configure(cfg);
                    }
                }))
                .route("/api/openapi.json", web::get().to(openapi::serve))
                .service(SwaggerUi::new("/api/docs/{_:.*}").config(Config::new(["/api/openapi.json"])))
                .route(
                    "/api/docs",
                    web::get().to(|| async {
                        HttpResponse::PermanentRedirect().insert_header(("location", "/api/docs/")).finish()
                    }),
                )
                .configure(crate::web::configure)
                .default_service(web::to(crate::web::fallback))
                .wrap(http::cors(&cors_origins))
                .wrap(from_fn(http::request_context))
                .wrap(from_fn(http::security_headers))
                .wrap(TracingLogger::<http::RedactingRootSpan>::new())
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
        let jobs = Arc::new(jobs);
        let runner = JobRunner::start(
            &backends.jobs,
            jobs.clone(),
            Some(backends.metrics.clone()),
            settings.jobs.workers,
            &backends.instance_id,
        );
        tracing::info!(port, address = %settings.server.host, "bwenge listening");
        Ok(Self { port, server, backends, jobs, runner, grace, analytics })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The backends this application runs on (tests reach the database, queue and bus through them).
    pub fn backends(&self) -> Backends {
        self.backends.clone()
    }

    /// The analytics domain (tests flush its writer before they read what it recorded).
    pub fn analytics(&self) -> analytics::AnalyticsService {
        self.analytics.clone()
    }

    /// Every domain's background job handlers, for a worker of one's own (tests play a second process with it).
    pub fn job_registry(&self) -> Arc<JobRegistry> {
        self.jobs.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting, drains in-flight requests and job workers (both
    /// within the grace period) and flushes the vector store.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self { server, backends, runner, grace, analytics, .. } = self;
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
        // Requests and jobs are done: what they recorded is stored before the process goes.
        if tokio::time::timeout(grace, analytics.flush()).await.is_err() {
            tracing::error!("analytics events were still being stored when the grace period ended");
        }
        if let Err(err) = backends.vectors.flush().await {
            tracing::error!(error = ?err, "flushing the vector store at shutdown");
        }
        served.context("server task panicked")?.context("server failed")?;
        tracing::info!("stopped");
        Ok(())
    }
}
