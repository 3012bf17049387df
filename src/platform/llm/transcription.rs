//! Speech to text, behind one trait: [`OpenAiTranscriber`] calls any OpenAI-compatible `/audio/transcriptions`
//! endpoint (OpenAI Whisper, faster-whisper-server, whisper.cpp's server) through `async-openai`.
//!
//! The request goes through `async-openai` (multipart form, auth, its retry of 429/5xx/connect errors), but the
//! answer is parsed here from the raw body: the crate's `verbose_json` type requires fields (`usage`, per-segment
//! `tokens`, `seek`, `compression_ratio`) that self-hosted servers leave out, and we only need times and text.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::audio::{AudioInput, AudioResponseFormat, CreateTranscriptionRequest, TimestampGranularity};
use serde::Deserialize;

use super::{error_chain, snippet};

/// Characters of an upstream message kept in our error.
const SNIPPET_CHARS: usize = 300;

/// A stretch of speech with its time span, relative to the start of the file that was transcribed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    /// The endpoint answered with an error status (after `async-openai`'s own retries for 429 and 5xx).
    #[error("transcription endpoint returned HTTP {status}: {message}")]
    Upstream { status: u16, message: String },
    /// The account behind the API key has no credit left: retrying will not help until someone pays.
    #[error("transcription quota exhausted: {0}")]
    QuotaExceeded(String),
    /// No HTTP answer (connection refused, reset, DNS).
    #[error("transcription endpoint unreachable: {0}")]
    Transport(String),
    #[error("transcription request timed out after {0:?}")]
    Timeout(Duration),
    /// A 2xx answer we cannot use, or an error answer that is not the OpenAI error shape (often a wrong base URL).
    #[error("unexpected answer from the transcription endpoint: {0}")]
    BadResponse(String),
    /// Our side: the audio file could not be read, or the settings are unusable.
    #[error("transcription request could not be made: {0}")]
    Local(String),
}

impl TranscribeError {
    /// Whether the same request may succeed later unchanged.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Upstream { status, .. } => matches!(status, 408 | 409 | 429) || *status >= 500,
            Self::Transport(_) | Self::Timeout(_) => true,
            Self::QuotaExceeded(_) | Self::BadResponse(_) | Self::Local(_) => false,
        }
    }
}

/// Turns an audio file into timed text. Shared as `Arc<dyn Transcriber>`; safe to call concurrently.
#[async_trait::async_trait]
pub trait Transcriber: Send + Sync + 'static {
    /// e.g. `openai:whisper-1`, for logs and `/readyz`.
    fn name(&self) -> &str;
    /// Transcribes one file in a format the endpoint accepts (the caller converts; see `ingest::media`).
    async fn transcribe(&self, file: &Path) -> Result<Vec<Segment>, TranscribeError>;
}

#[derive(Clone)]
pub struct OpenAiTranscriberConfig {
    /// API root without `/audio/transcriptions`, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Empty: an empty bearer token (self-hosted servers usually ignore it).
    pub api_key: String,
    pub model: String,
    /// ISO-639-1; `None` lets the model detect the language.
    pub language: Option<String>,
    /// Per request, including the upload of the file.
    pub timeout: Duration,
}

// Hand-written so the API key never lands in logs.
impl fmt::Debug for OpenAiTranscriberConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiTranscriberConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &if self.api_key.is_empty() { "<none>" } else { "<redacted>" })
            .field("model", &self.model)
            .field("language", &self.language)
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub struct OpenAiTranscriber {
    client: Client<OpenAIConfig>,
    model: String,
    language: Option<String>,
    timeout: Duration,
    name: String,
}

impl OpenAiTranscriber {
    /// Validates the settings and builds the client. Does not contact the server.
    pub fn new(config: OpenAiTranscriberConfig) -> Result<Self, TranscribeError> {
        let invalid = |msg: String| Err(TranscribeError::Local(format!("invalid transcription settings: {msg}")));
        let base = config.base_url.trim().trim_end_matches('/');
        match url::Url::parse(base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => return invalid(format!("base_url {:?} is not an http(s) URL", config.base_url)),
        }
        if config.model.trim().is_empty() {
            return invalid("model is empty".into());
        }
        // async-openai builds the Authorization header with `parse().unwrap()`: refuse what would panic there.
        if reqwest::header::HeaderValue::from_str(&format!("Bearer {}", config.api_key)).is_err() {
            return invalid("api_key contains characters not allowed in an HTTP header".into());
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| TranscribeError::Local(format!("cannot build the HTTP client: {e}")))?;
        // Explicit empty org and project: `OpenAIConfig::new` reads OPENAI_* variables, which must not leak to a
        // self-hosted server.
        let openai =
            OpenAIConfig::new().with_api_base(base).with_api_key(config.api_key).with_org_id("").with_project_id("");
        Ok(Self {
            client: Client::with_config(openai).with_http_client(http),
            name: format!("openai:{}", config.model),
            model: config.model,
            language: config.language.filter(|l| !l.trim().is_empty()),
            timeout: config.timeout,
        })
    }

    fn map_error(&self, err: OpenAIError) -> TranscribeError {
        match err {
            OpenAIError::ApiError(e) if e.api_error.r#type.as_deref() == Some("insufficient_quota") => {
                TranscribeError::QuotaExceeded(snippet(&e.api_error.message, SNIPPET_CHARS))
            }
            OpenAIError::ApiError(e) => TranscribeError::Upstream {
                status: e.status_code.as_u16(),
                message: snippet(&e.api_error.message, SNIPPET_CHARS),
            },
            OpenAIError::Reqwest(e) if e.is_timeout() => TranscribeError::Timeout(self.timeout),
            OpenAIError::Reqwest(e) => TranscribeError::Transport(error_chain(&e)),
            OpenAIError::JSONDeserialize(_, body) => TranscribeError::BadResponse(format!(
                "an error that is not an OpenAI error body (is the base URL right?): {}",
                snippet(&body, SNIPPET_CHARS)
            )),
            OpenAIError::FileReadError(e) => TranscribeError::Local(e),
            other => TranscribeError::BadResponse(other.to_string()),
        }
    }
}

#[async_trait::async_trait]
impl Transcriber for OpenAiTranscriber {
    fn name(&self) -> &str {
        &self.name
    }

    #[tracing::instrument(skip(self), fields(model = %self.model))]
    async fn transcribe(&self, file: &Path) -> Result<Vec<Segment>, TranscribeError> {
        // Read into memory (a piece is ~10 MB) rather than streamed: a streamed part makes the body chunked, which
        // minimal servers (Python's cgi, some embedded HTTP libraries) cannot read.
        let bytes = tokio::fs::read(file)
            .await
            .map_err(|e| TranscribeError::Local(format!("reading {}: {e}", file.display())))?;
        let filename = file.file_name().map_or_else(|| "audio.flac".into(), |n| n.to_string_lossy().into_owned());
        let request = CreateTranscriptionRequest {
            file: AudioInput::from_bytes(filename, bytes.into()),
            model: self.model.clone(),
            language: self.language.clone(),
            // verbose_json is the format that carries segment times on OpenAI, faster-whisper and whisper.cpp.
            response_format: Some(AudioResponseFormat::VerboseJson),
            timestamp_granularities: Some(vec![TimestampGranularity::Segment]),
            ..CreateTranscriptionRequest::default()
        };
        let body = self.client.audio().transcription().create_raw(request).await.map_err(|e| self.map_error(e))?;
        parse_verbose_json(&body)
    }
}

#[derive(Deserialize)]
struct VerboseJson {
    #[serde(default)]
    text: String,
    #[serde(default)]
    duration: Option<Seconds>,
    #[serde(default)]
    segments: Option<Vec<RawSegment>>,
}

#[derive(Deserialize)]
struct RawSegment {
    start: Seconds,
    end: Seconds,
    #[serde(default)]
    text: String,
}

/// Seconds as a JSON number, or as a string (OpenAI's translation endpoint sends `"duration": "12.5"`).
#[derive(Deserialize, Clone, Copy)]
#[serde(try_from = "serde_json::Value")]
struct Seconds(f64);

impl TryFrom<serde_json::Value> for Seconds {
    type Error = String;

    fn try_from(value: serde_json::Value) -> Result<Self, String> {
        let secs = match &value {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match secs {
            Some(s) if s.is_finite() && s >= 0.0 => Ok(Self(s)),
            _ => Err(format!("{value} is not a time in seconds")),
        }
    }
}

impl Seconds {
    fn ms(self) -> u64 {
        (self.0 * 1000.0).round() as u64
    }
}

/// Segments with text, in order. A server that ignored `verbose_json` and sent only `text` gets one segment
/// spanning the file (its `duration` when given, else an empty span the caller widens to the file's length).
pub(crate) fn parse_verbose_json(body: &[u8]) -> Result<Vec<Segment>, TranscribeError> {
    let parsed: VerboseJson = serde_json::from_slice(body).map_err(|e| {
        TranscribeError::BadResponse(format!("{e}: {}", snippet(&String::from_utf8_lossy(body), SNIPPET_CHARS)))
    })?;
    let mut segments: Vec<Segment> = match parsed.segments {
        Some(raw) => raw
            .into_iter()
            .map(|s| {
                let (start_ms, end_ms) = (s.start.ms(), s.end.ms());
                Segment { start_ms, end_ms: end_ms.max(start_ms), text: s.text.trim().to_owned() }
            })
            .collect(),
        None => vec![Segment {
            start_ms: 0,
            end_ms: parsed.duration.map_or(0, Seconds::ms),
            text: parsed.text.trim().to_owned(),
        }],
    };
    segments.retain(|s| !s.text.is_empty());
    segments.sort_by_key(|s| s.start_ms);
    Ok(segments)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn verbose_json_from_openai_and_self_hosted_servers() {
        // OpenAI: every field; whisper.cpp: fewer per-segment fields; both give times in seconds.
        let openai = br#"{"task":"transcribe","language":"english","duration":8.47,"text":"Hello class. Loops.",
            "segments":[{"id":0,"seek":0,"start":0.0,"end":3.2,"text":" Hello class.","tokens":[1],
            "temperature":0.0,"avg_logprob":-0.2,"compression_ratio":1.1,"no_speech_prob":0.01},
            {"id":1,"start":3.2,"end":8.47,"text":" Loops."}],"usage":{"type":"duration","seconds":9}}"#;
        let segments = parse_verbose_json(openai).unwrap();
        assert_eq!(
            segments,
            vec![
                Segment { start_ms: 0, end_ms: 3200, text: "Hello class.".into() },
                Segment { start_ms: 3200, end_ms: 8470, text: "Loops.".into() },
            ]
        );
    }

    #[test]
    fn plain_json_becomes_one_segment_and_silence_none() {
        let segments = parse_verbose_json(br#"{"text":" Only text. ","duration":"12.5"}"#).unwrap();
        assert_eq!(segments, vec![Segment { start_ms: 0, end_ms: 12500, text: "Only text.".into() }]);
        assert!(parse_verbose_json(br#"{"text":"","segments":[{"start":0,"end":1,"text":"  "}]}"#).unwrap().is_empty());
    }

    #[test]
    fn unusable_answers_are_bad_responses() {
        for body in [&b"<html>404</html>"[..], br#"{"segments":[{"start":-1,"end":2,"text":"x"}]}"#] {
            let err = parse_verbose_json(body).unwrap_err();
            assert!(matches!(err, TranscribeError::BadResponse(_)), "{err}");
            assert!(!err.retryable());
        }
    }

    #[test]
    fn settings_are_checked_up_front() {
        let config = |base: &str, key: &str| OpenAiTranscriberConfig {
            base_url: base.into(),
            api_key: key.into(),
            model: "whisper-1".into(),
            language: None,
            timeout: Duration::from_secs(5),
        };
        assert!(OpenAiTranscriber::new(config("http://127.0.0.1:9/v1/", "")).is_ok());
        assert!(OpenAiTranscriber::new(config("whisper:8000", "")).is_err());
        assert!(OpenAiTranscriber::new(config("http://x/v1", "bad\nkey")).is_err());
        assert!(!format!("{:?}", config("http://x", "sk-secret")).contains("sk-secret"));
    }

    #[test]
    fn retryable_classification() {
        let upstream = |status| TranscribeError::Upstream { status, message: String::new() };
        assert!(upstream(500).retryable() && upstream(429).retryable() && upstream(503).retryable());
        assert!(!upstream(400).retryable() && !upstream(401).retryable() && !upstream(413).retryable());
        assert!(TranscribeError::Timeout(Duration::from_secs(1)).retryable());
        assert!(!TranscribeError::QuotaExceeded("x".into()).retryable());
    }
}
