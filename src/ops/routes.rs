use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Shaped};
use crate::platform::Backends;
use crate::platform::db;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` when every configured backend answered, else `unavailable`.
    pub status: &'static str,
    pub checks: BTreeMap<&'static str, Check>,
}

#[derive(Serialize, ToSchema)]
pub struct Check {
    pub ok: bool,
    /// Which implementation answered: `sqlite`, `postgres`, `embedded`, `qdrant`, `local`, `redis`, ...
    pub backend: String,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Something an operator should know even though the check passed (e.g. search running degraded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Liveness
///
/// The process is up. Touches no backend, so a slow database never gets a healthy replica restarted.
#[utoipa::path(get, path = "/healthz", tag = "ops", operation_id = "healthz",
    responses((status = 200, description = "alive", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness
///
/// Every configured backend answers; 503 with the failing checks otherwise.
#[utoipa::path(get, path = "/readyz", tag = "ops", operation_id = "readyz", responses(
    (status = 200, description = "every backend answered", body = Readiness),
    (status = 503, description = "a backend did not answer: see its check", body = Readiness)))]
pub async fn readyz(state: web::Data<Backends>) -> HttpResponse {
    let (database, storage, vectors, redis) = futures_util::join!(
        check(db::backend_name(&state.db), db::health(&state.db)),
        check(state.objects.backend(), state.objects.health()),
        check(state.vectors.backend(), async { Ok(state.vectors.health().await?) }),
        async {
            match &state.redis {
                Some(redis) => Some(check("redis", redis.health()).await),
                None => None,
            }
        },
    );
    let mut checks = BTreeMap::from([("database", database), ("storage", storage), ("vectors", vectors)]);
    if let Some(redis) = redis {
        checks.insert("redis", redis);
    }
    checks.insert("embeddings", embeddings_check(&state));
    checks.insert("transcription", transcription_check(&state));
    let ok = checks.values().all(|c| c.ok);
    let body = Readiness { status: if ok { "ready" } else { "unavailable" }, checks };
    if ok {
        return HttpResponse::Ok().json(body);
    }
    // The checks are the useful part of this 503: keep them instead of the generic error shape.
    let mut response = HttpResponse::ServiceUnavailable().json(body);
    response.extensions_mut().insert(Shaped);
    response
}

async fn check(backend: &str, probe: impl Future<Output = anyhow::Result<()>>) -> Check {
    let started = Instant::now();
    // A hung backend must not hang the probe: the orchestrator's own timeout would hide which one it was.
    let result = match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(result) => result,
        Err(_) => Err(anyhow::anyhow!("no answer within 2 s")),
    };
    if let Err(err) = &result {
        tracing::warn!(backend, error = ?err, "readiness check failed");
    }
    Check {
        ok: result.is_ok(),
        backend: backend.to_owned(),
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        error: result.err().map(|e| format!("{e:#}")),
        warning: None,
    }
}

/// The model loads on first use, so this reports configuration, not a round trip. A missing model leaves the
/// server usable (BM25 only), so it is a warning, not a failure.
fn embeddings_check(state: &Backends) -> Check {
    match &state.embeddings {
        Some(embedder) => {
            Check { ok: true, backend: embedder.name().to_owned(), latency_ms: 0.0, error: None, warning: None }
        }
        None => Check {
            ok: true,
            backend: "none".into(),
            latency_ms: 0.0,
            error: None,
            warning: Some(state.embeddings_missing.clone().unwrap_or_else(|| "search is BM25-only".into())),
        },
    }
}

/// Configuration only, like embeddings: without a provider the server works, but recordings fail.
fn transcription_check(state: &Backends) -> Check {
    let (backend, warning) = match &state.transcription {
        Some(transcriber) => (transcriber.name().to_owned(), None),
        None => (
            "none".to_owned(),
            Some("no transcription provider: audio and video uploads fail; set transcription.base_url".to_owned()),
        ),
    };
    Check { ok: true, backend, latency_ms: 0.0, error: None, warning }
}

/// Metrics
///
/// The Prometheus text exposition: requests by route pattern, latency, requests in flight, job queue depth and
/// job outcomes.
#[utoipa::path(get, path = "/metrics", tag = "ops", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 401, description = "`metrics_token_required`: `metrics.token` is set and was not sent",
            body = crate::error::ErrorBody)))]
pub async fn metrics(state: web::Data<Backends>, req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(expected) = crate::config::secret_opt(&state.config.metrics.token) {
        let presented = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Compared in constant time: the token guards operational data.
        let matches = presented.is_some_and(|p| {
            p.len() == expected.len() && p.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        });
        if !matches {
            return Err(ApiError::unauthorized(
                "metrics_token_required",
                "/metrics wants `Authorization: Bearer <metrics.token>`",
            ));
        }
    }
    // Queue depth is read at scrape time: it is the table's truth, whichever replica changed it.
    match state.jobs.depth().await {
        Ok(depth) => {
            state.metrics.jobs_depth.reset();
            for (status, n) in depth {
                state.metrics.jobs_depth.with_label_values(&[status.as_str()]).set(n);
            }
        }
        Err(err) => tracing::warn!(error = ?err, "could not read job queue depth"),
    }
    if let Some(topics) = state.pubsub.local_topics() {
        state.metrics.pubsub_topics.set(i64::try_from(topics).unwrap_or(i64::MAX));
    }
    let text = state.metrics.render().map_err(|e| anyhow::anyhow!(e))?;
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text))
}
