//! Text embeddings for retrieval, behind one trait.
//!
//! Two implementations:
//! - [`LocalEmbedder`]: sentence-transformers all-MiniLM-L6-v2 on the CPU, so a self-hosted install
//!   needs no external service (the weights come from a package registry, see [`fetch`]).
//! - [`OpenAiEmbedder`]: any OpenAI-compatible `/embeddings` endpoint (OpenAI, vLLM, Ollama, LiteLLM, ...).
//!
//! Every implementation returns L2-normalised vectors, so callers (and the vector store) can use a dot product
//! as cosine similarity without knowing which backend produced them.

pub mod fetch;
mod local;
mod openai;

#[cfg(test)]
mod local_tests;
#[cfg(test)]
mod openai_tests;

use std::ops::Range;

pub use local::LocalEmbedder;
pub use openai::{OpenAiEmbedder, OpenAiEmbedderConfig};

/// Why an embedding call failed.
///
/// [`EmbedError::retryable`] tells whether the same call may succeed later without any change; the OpenAI client
/// already retries those internally, so a caller seeing one has exhausted its attempts and may re-queue the job.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A model file is absent (local model not fetched yet). Not retryable: someone must fetch the model.
    #[error("embedding model missing: {0}")]
    ModelMissing(String),
    /// Model files exist but could not be loaded (corrupt weights, bad config, tokenizer JSON). Not retryable.
    #[error("failed to load embedding model: {0}")]
    Load(String),
    /// The local forward pass or tokenisation failed. Not retryable: the same input fails the same way.
    #[error("embedding inference failed: {0}")]
    Inference(String),
    /// The remote endpoint answered with a non-success status. Retryable for 429 (rate limit) and 5xx (server
    /// trouble); not for other 4xx, which mean the request itself is wrong (bad key, unknown model, input too long).
    #[error("embedding endpoint returned HTTP {status}: {message}")]
    Upstream {
        /// HTTP status code.
        status: u16,
        /// The server's error message (from an OpenAI-style error body when there is one, otherwise the raw body).
        message: String,
    },
    /// The request did not get an HTTP answer (connect failure, timeout, connection reset). Retryable.
    #[error("embedding endpoint unreachable: {0}")]
    Transport(String),
    /// The endpoint answered 2xx but the body is unusable (not JSON, wrong count, wrong dimensions, zero vector).
    /// Not retryable: it points at a misconfiguration such as a wrong model or `dimensions` setting.
    #[error("unexpected embedding response: {0}")]
    BadResponse(String),
}

impl EmbedError {
    /// Whether repeating the same call unchanged may succeed (see each variant's documentation).
    pub fn retryable(&self) -> bool {
        match self {
            Self::Upstream { status, .. } => *status == 429 || (500..=599).contains(status),
            Self::Transport(_) => true,
            Self::ModelMissing(_) | Self::Load(_) | Self::Inference(_) | Self::BadResponse(_) => false,
        }
    }
}

/// Turns text into vectors for semantic search.
///
/// Implementations are cheap to share (`Arc<dyn Embedder>`) and safe to call concurrently.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync + 'static {
    /// Identifies the model, e.g. `local:all-MiniLM-L6-v2` or `openai:text-embedding-3-small`. Stored next to
    /// vectors so that vectors from different models are never compared with each other.
    fn name(&self) -> &str;
    /// Length of every returned vector.
    fn dimensions(&self) -> usize;
    /// Token budget per input for this model (256 word pieces for MiniLM-class models). Longer inputs are
    /// truncated (local) or rejected by the server (remote), so the chunker keeps chunks within it.
    fn max_tokens(&self) -> usize;
    /// Counts tokens with the model's own tokenizer (the chunker sizes chunks with it). For remote models without a
    /// local tokenizer, a documented approximation.
    fn count_tokens(&self, text: &str) -> usize;
    /// Embeds in batches internally; output vectors are L2-normalised; same order as input.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// Embeds each text and, where the model allows it, each of its spans from the same pass ("late chunking":
    /// the mean of the span's token vectors, which the whole text has already put in context). A span vector
    /// costs no extra model input. This default embeds the texts only and leaves every span without a vector: an
    /// embeddings endpoint returns one vector per input, so a span would cost a whole input (and its bill).
    async fn embed_spans(&self, texts: &[SpannedText]) -> Result<Vec<SpannedVectors>, EmbedError> {
        let whole: Vec<String> = texts.iter().map(|t| t.text.clone()).collect();
        let vectors = self.embed(&whole).await?;
        Ok(vectors
            .into_iter()
            .zip(texts)
            .map(|(whole, t)| SpannedVectors { whole, spans: vec![None; t.spans.len()] })
            .collect())
    }
}

/// A text to embed, with byte ranges of it that want vectors of their own.
#[derive(Debug, Clone)]
pub struct SpannedText {
    pub text: String,
    /// Byte ranges into `text`, on character boundaries.
    pub spans: Vec<Range<usize>>,
    /// The first `context` bytes of `text` (a title, say) are part of every span's vector too, with the
    /// special tokens, as if each span had been embedded on its own behind that context.
    pub context: usize,
}

/// The vectors of one [`SpannedText`]: the whole text's, and one per span where the model could pool it (a span
/// truncated away, or a model that cannot pool spans, gives `None`).
#[derive(Debug, Clone)]
pub struct SpannedVectors {
    pub whole: Vec<f32>,
    pub spans: Vec<Option<Vec<f32>>>,
}

/// Scales `v` to unit length in place. Returns `false` (leaving `v` untouched) when its norm is zero or not finite,
/// because such a vector has no direction and cannot be normalised.
pub(crate) fn l2_normalize(v: &mut [f32]) -> bool {
    // Accumulate in f64: 384+ squared f32 terms lose precision otherwise, and norms are checked to 1e-6 in tests.
    let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return false;
    }
    for x in v.iter_mut() {
        *x = (f64::from(*x) / norm) as f32;
    }
    true
}

/// Cosine similarity of two vectors (plain dot product divided by both norms; 0 when either is zero).
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot / (na.sqrt() * nb.sqrt())) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_and_cosine() {
        let mut v = vec![3.0, 4.0];
        assert!(l2_normalize(&mut v));
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let mut zero = vec![0.0; 3];
        assert!(!l2_normalize(&mut zero));
        assert!(!l2_normalize(&mut [f32::NAN, 1.0]));
        assert!((cosine_similarity(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine_similarity(&[1.0, 0.0], &[0.0, 0.0]), 0.0);
    }

    #[test]
    fn retryable_classification() {
        let upstream = |status| EmbedError::Upstream { status, message: String::new() };
        assert!(upstream(429).retryable());
        assert!(upstream(503).retryable());
        assert!(!upstream(400).retryable());
        assert!(!upstream(401).retryable());
        assert!(EmbedError::Transport("reset".into()).retryable());
        assert!(!EmbedError::BadResponse("x".into()).retryable());
        assert!(!EmbedError::ModelMissing("x".into()).retryable());
    }
}
