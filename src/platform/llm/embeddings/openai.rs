//! Any OpenAI-compatible `/embeddings` endpoint (OpenAI itself, vLLM, Ollama, LiteLLM, text-embeddings-inference).
//!
//! Built on `reqwest` directly rather than `async-openai`: the request is one small JSON POST, and we need the HTTP
//! status and the `Retry-After` header to drive our own retry policy, which `async-openai` hides behind its own
//! backoff (429 only, no `Retry-After`). It would also add a second `reqwest` major version to the build.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::{Deserialize, Serialize};

use super::{EmbedError, Embedder, l2_normalize};
use crate::platform::llm::{error_chain, snippet};

/// Characters of an upstream body kept in our error.
const SNIPPET_CHARS: usize = 500;

/// Settings for [`OpenAiEmbedder`]. Build with [`OpenAiEmbedderConfig::new`] and adjust the public fields.
#[derive(Clone)]
pub struct OpenAiEmbedderConfig {
    /// API root without the `/embeddings` suffix, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    /// Bearer token. Empty means no `Authorization` header (local servers usually need none).
    pub api_key: String,
    /// Model name sent with every request, e.g. `text-embedding-3-small`.
    pub model: String,
    /// Expected vector length. Every response is checked against it, so a wrong model or setting fails loudly
    /// instead of writing vectors of the wrong size into the index.
    pub dimensions: usize,
    /// Send `dimensions` in the request. Only OpenAI's text-embedding-3 models (and some servers) accept it, to
    /// shorten vectors; others reject the field, so it is off by default.
    pub request_dimensions: bool,
    /// Ask for vectors as base64 little-endian f32 (default true): a quarter of the bytes of JSON numbers and no
    /// float parsing, which was a fifth of ingest CPU with a fast endpoint. OpenAI, vLLM, llama.cpp and TEI support
    /// it; a server that ignores the field and sends numbers is understood too. Turn it off for one that rejects it.
    pub base64: bool,
    /// Inputs per HTTP request (default 64).
    pub batch_size: usize,
    /// Token budget per input reported by [`Embedder::max_tokens`] (default 512, which fits every common embedding
    /// model; OpenAI's models accept 8191).
    pub max_tokens: usize,
    /// Attempts per batch, including the first (default 5).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, with jitter (default 500 ms).
    pub initial_backoff: Duration,
    /// Upper bound for one retry delay, including one asked for by `Retry-After` (default 30 s).
    pub max_backoff: Duration,
    /// Per-request timeout (default 60 s).
    pub timeout: Duration,
}

impl OpenAiEmbedderConfig {
    /// Config with the defaults documented on each field and no API key.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>, dimensions: usize) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: String::new(),
            model: model.into(),
            dimensions,
            request_dimensions: false,
            base64: true,
            batch_size: 64,
            max_tokens: 512,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
        }
    }
}

// Hand-written so the API key never lands in logs.
impl fmt::Debug for OpenAiEmbedderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiEmbedderConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &if self.api_key.is_empty() { "<none>" } else { "<redacted>" })
            .field("model", &self.model)
            .field("dimensions", &self.dimensions)
            .field("request_dimensions", &self.request_dimensions)
            .field("base64", &self.base64)
            .field("batch_size", &self.batch_size)
            .field("max_tokens", &self.max_tokens)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// Embeds through an OpenAI-compatible HTTP API.
#[derive(Debug)]
pub struct OpenAiEmbedder {
    config: OpenAiEmbedderConfig,
    name: String,
    url: String,
    http: reqwest::Client,
}

#[derive(Serialize)]
struct EmbeddingRequest<'a> {
    model: &'a str,
    input: Vec<&'a str>,
    /// Always explicit: servers differ in their default.
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingData>,
}

#[derive(Deserialize)]
struct EmbeddingData {
    /// Position in the request's `input`. Optional because some compatible servers omit it; then list order counts.
    index: Option<usize>,
    embedding: Vector,
}

/// A vector as JSON numbers, or as base64 of little-endian f32 (`encoding_format: "base64"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f32>),
    Base64(String),
}

impl Vector {
    fn decode(self) -> Result<Vec<f32>, String> {
        match self {
            Vector::Floats(v) => Ok(v),
            Vector::Base64(text) => {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .map_err(|e| format!("embedding is not valid base64: {e}"))?;
                if bytes.len() % 4 != 0 {
                    return Err(format!("base64 embedding of {} bytes is not a list of f32", bytes.len()));
                }
                Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
            }
        }
    }
}

/// Outcome of one HTTP attempt.
enum Attempt {
    Done(Vec<Vec<f32>>),
    /// Retryable failure, with the delay the server asked for, if any.
    Retry(EmbedError, Option<Duration>),
    Fail(EmbedError),
}

impl OpenAiEmbedder {
    /// Validates the config and builds the HTTP client. Does not contact the server.
    pub fn new(config: OpenAiEmbedderConfig) -> Result<Self, EmbedError> {
        let invalid = |msg: &str| Err(EmbedError::Load(format!("invalid embedding config: {msg}")));
        if config.model.trim().is_empty() {
            return invalid("model is empty");
        }
        if config.dimensions == 0 {
            return invalid("dimensions must be positive");
        }
        if config.batch_size == 0 || config.max_attempts == 0 {
            return invalid("batch_size and max_attempts must be positive");
        }
        let base = config.base_url.trim_end_matches('/');
        let url = format!("{base}/embeddings");
        // Checked here so that a typo fails at startup, not as a (retried) transport error on every request.
        match reqwest::Url::parse(&url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
            _ => return invalid(&format!("base_url {:?} is not an http(s) URL", config.base_url)),
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| EmbedError::Load(format!("cannot build HTTP client: {e}")))?;
        let name = format!("openai:{}", config.model);
        Ok(Self { config, name, url, http })
    }

    /// Sends one batch, retrying retryable failures with exponential backoff and jitter.
    async fn embed_batch(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut attempt = 1;
        loop {
            let (err, server_delay) = match self.attempt(batch).await {
                Attempt::Done(vectors) => return Ok(vectors),
                Attempt::Fail(err) => return Err(err),
                Attempt::Retry(err, delay) => (err, delay),
            };
            if attempt >= self.config.max_attempts {
                return Err(err);
            }
            let delay = server_delay.unwrap_or_else(|| self.backoff(attempt)).min(self.config.max_backoff);
            let delay_ms = delay.as_millis() as u64;
            tracing::warn!(error = %err, attempt, delay_ms, "embedding request failed; retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// "Equal jitter": half the exponential delay plus a random part of the other half, so that many clients
    /// throttled at once do not retry in lockstep, while the delay still grows.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp =
            self.config.initial_backoff.saturating_mul(1u32 << (attempt - 1).min(16)).min(self.config.max_backoff);
        let half = exp / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }

    async fn attempt(&self, batch: &[String]) -> Attempt {
        let body = EmbeddingRequest {
            model: &self.config.model,
            // OpenAI rejects empty strings; a single space embeds as "nothing" and keeps positions aligned.
            input: batch.iter().map(|t| if t.is_empty() { " " } else { t.as_str() }).collect(),
            encoding_format: if self.config.base64 { "base64" } else { "float" },
            dimensions: self.config.request_dimensions.then_some(self.config.dimensions),
        };
        let mut request = self.http.post(&self.url).json(&body);
        if !self.config.api_key.is_empty() {
            request = request.bearer_auth(&self.config.api_key);
        }
        // Embedding requests are idempotent, so any failure to get a response (connect error, timeout, reset) is
        // safe to retry.
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(EmbedError::Transport(error_chain(&e)), None),
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => return Attempt::Retry(EmbedError::Transport(error_chain(&e)), None),
        };
        if !status.is_success() {
            let err = EmbedError::Upstream { status: status.as_u16(), message: error_message(&text) };
            return if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                Attempt::Retry(err, retry_after)
            } else {
                Attempt::Fail(err)
            };
        }
        match self.parse(&text, batch.len()) {
            Ok(v) => Attempt::Done(v),
            Err(e) => Attempt::Fail(e),
        }
    }

    /// Puts vectors back in input order and checks count, dimensions and values; normalises, because not every
    /// compatible server returns unit vectors.
    fn parse(&self, text: &str, expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        let bad = |msg: String| EmbedError::BadResponse(msg);
        let response: EmbeddingResponse = serde_json::from_str(text)
            .map_err(|e| bad(format!("invalid JSON ({e}): {}", snippet(text, SNIPPET_CHARS))))?;
        if response.data.len() != expected {
            return Err(bad(format!("sent {expected} inputs, got {} embeddings", response.data.len())));
        }
        let mut out: Vec<Option<Vec<f32>>> = vec![None; expected];
        for (position, item) in response.data.into_iter().enumerate() {
            let index = item.index.unwrap_or(position);
            let slot = out.get_mut(index).ok_or_else(|| bad(format!("embedding index {index} out of range")))?;
            if slot.is_some() {
                return Err(bad(format!("embedding index {index} appears twice")));
            }
            let mut v = item.embedding.decode().map_err(bad)?;
            if v.len() != self.config.dimensions {
                return Err(bad(format!(
                    "model {} returned {} dimensions but the config says {}",
                    self.config.model,
                    v.len(),
                    self.config.dimensions
                )));
            }
            if !l2_normalize(&mut v) {
                return Err(bad(format!("embedding {index} is zero or not finite")));
            }
            *slot = Some(v);
        }
        // Count matched and no index repeated, so every slot is filled; collect() still checks rather than assumes.
        out.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| bad("missing embedding index".into()))
    }
}

/// `Retry-After` in seconds (integer or decimal). The HTTP-date form is rare for APIs and is ignored, falling back
/// to our own backoff.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse::<f64>().ok()?;
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value.min(3600.0)))
}

/// The message of an OpenAI-style error body (`{"error": {"message": ...}}`), else the start of the raw body.
fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: ErrorDetail,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ErrorDetail {
        Object { message: String },
        Text(String),
    }
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody { error: ErrorDetail::Object { message } | ErrorDetail::Text(message) }) => message,
        Err(_) => snippet(body, SNIPPET_CHARS),
    }
}

#[async_trait::async_trait]
impl Embedder for OpenAiEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dimensions(&self) -> usize {
        self.config.dimensions
    }

    fn max_tokens(&self) -> usize {
        self.config.max_tokens
    }

    /// Approximation: ceil(characters / 4), OpenAI's rule of thumb for English with its BPE tokenizers. We ship no
    /// tokenizer for remote models; keep `max_tokens` conservative to leave room for the error of this estimate.
    fn count_tokens(&self, text: &str) -> usize {
        text.chars().count().div_ceil(4)
    }

    /// Sends `batch_size` inputs per request, one request at a time (remote rate limits make parallel requests
    /// counterproductive), and fails the whole call if any batch fails after its retries.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.config.batch_size) {
            out.extend(self.embed_batch(batch).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parsing() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(RETRY_AFTER, "0.5".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(500)));
        // HTTP-date form and garbage fall back to our own backoff.
        headers.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "-1".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn error_messages() {
        assert_eq!(error_message(r#"{"error":{"message":"bad key","type":"auth"}}"#), "bad key");
        assert_eq!(error_message(r#"{"error":"model not found"}"#), "model not found");
        assert_eq!(error_message("plain text"), "plain text");
        assert_eq!(error_message(&"x".repeat(600)).len(), 503);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let mut config = OpenAiEmbedderConfig::new("http://x/v1", "m", 8);
        config.initial_backoff = Duration::from_millis(100);
        config.max_backoff = Duration::from_millis(1000);
        let e = OpenAiEmbedder::new(config).unwrap();
        for _ in 0..50 {
            let (b1, b3, b10) = (e.backoff(1), e.backoff(3), e.backoff(10));
            assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100), "{b1:?}");
            assert!(b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400), "{b3:?}");
            assert!(b10 >= Duration::from_millis(500) && b10 <= Duration::from_millis(1000), "{b10:?}");
        }
    }
}
