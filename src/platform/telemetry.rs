//! Logging: pretty lines for people in development, JSON for log shippers in production. Every line logged
//! while serving a request sits inside tracing-actix-web's root span, so it carries the `request_id`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber; a second call (several apps in one test process) is a no-op.
pub fn init(settings: &LogSettings) {
    // RUST_LOG wins over the configured level, for one-off debugging.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},sqlx=warn,sea_orm=warn,h2=warn,hyper=warn", settings.level)));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match settings.format {
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().with_current_span(true).with_span_list(true))
            .try_init(),
        LogFormat::Pretty => registry.with(tracing_subscriber::fmt::layer().compact()).try_init(),
    };
}
