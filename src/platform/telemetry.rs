//! Logging: pretty lines for people in development, JSON for log shippers in production. Every line logged
//! while serving a request sits inside tracing-actix-web's root span, so it carries the `request_id`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber; a second call (several apps in one test process) is a no-op.
pub fn init(settings: &LogSettings) {
    // RUST_LOG wins over the configured level, for one-off debugging.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directives(&settings.level)));
    let registry = tracing_subscriber::registry().with(filter);
    // Colour only for a person at a terminal: escape codes in a file or a log shipper are noise.
    let ansi = std::io::stdout().is_terminal();
    let _ = match settings.format {
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().with_ansi(false).with_current_span(true).with_span_list(true))
            .try_init(),
        LogFormat::Pretty => registry.with(tracing_subscriber::fmt::layer().compact().with_ansi(ansi)).try_init(),
    };
}

/// The configured level, with the chatty dependencies turned down. The embedded vector engine warns at every start
/// about two process-wide settings that only Qdrant's own `main` initialises (its feature flags, its multi-mmap
/// check) and that the library neither exposes nor needs (it falls back to the defaults it warns about): those two
/// modules log errors only.
fn directives(level: &str) -> String {
    format!(
        "{level},sqlx=warn,sea_orm=warn,h2=warn,hyper=warn,qdrant_edge::common::flags=error,\
         qdrant_edge::common::mmap::ops=error"
    )
}
