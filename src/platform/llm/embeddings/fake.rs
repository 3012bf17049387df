//! A deterministic, instant embedder for tests. Not for production: it knows nothing of meaning.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{EmbedError, Embedder, l2_normalize};

/// **For tests only.** Feature-hashes lowercased word tokens into a fixed number of dimensions (384 by default,
/// like MiniLM) and normalises the result, so texts that share words are similar and texts that share none have
/// cosine similarity 0 (barring hash collisions). Deterministic across runs, platforms and Rust versions (FNV-1a,
/// not `std`'s hasher, whose algorithm is unspecified), so tests can rely on exact rankings.
///
/// It is `pub` rather than `cfg(test)` so that integration tests and other modules' tests can use it.
#[derive(Debug)]
pub struct FakeEmbedder {
    dimensions: usize,
    max_tokens: usize,
    calls: AtomicUsize,
}

impl Default for FakeEmbedder {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeEmbedder {
    /// 384 dimensions, 256-token budget: the same shape as the local MiniLM model.
    pub fn new() -> Self {
        Self::with_dimensions(384)
    }

    /// A fake with another vector length (at least 1), e.g. to test dimension-mismatch handling.
    pub fn with_dimensions(dimensions: usize) -> Self {
        Self { dimensions: dimensions.max(1), max_tokens: 256, calls: AtomicUsize::new(0) }
    }

    /// Overrides the token budget reported by [`Embedder::max_tokens`], e.g. to force small chunks in tests.
    pub fn with_max_tokens(mut self, max_tokens: usize) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    /// How many times [`Embedder::embed`] has been called (lets tests assert on caching or batching upstream).
    pub fn embed_calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// The vector for one text (what `embed` returns for it).
    pub fn vector(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dimensions];
        for word in words(text) {
            let h = fnv1a(word.as_bytes());
            // The low bits pick the dimension; an independent high bit picks the sign, so collisions tend to cancel
            // rather than inflate similarity (the usual feature-hashing trick).
            let idx = (h % self.dimensions as u64) as usize;
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            v[idx] += sign;
        }
        if !l2_normalize(&mut v) {
            // No words (empty or punctuation-only text): still return a unit vector, as the trait promises.
            v[0] = 1.0;
        }
        v
    }
}

/// Lowercased runs of alphanumeric characters.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// 64-bit FNV-1a: tiny, dependency-free and stable forever.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[async_trait::async_trait]
impl Embedder for FakeEmbedder {
    fn name(&self) -> &str {
        "fake:hash"
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Whitespace-separated words: predictable numbers for chunker tests.
    fn count_tokens(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(texts.iter().map(|t| self.vector(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::cosine_similarity;
    use super::*;

    #[tokio::test]
    async fn deterministic_normalised_and_word_based() {
        let e = FakeEmbedder::new();
        let texts: Vec<String> =
            ["Loop over NUMBERS", "numbers loop, over!", "json parsing", ""].iter().map(|s| s.to_string()).collect();
        let v = e.embed(&texts).await.unwrap();
        assert_eq!(v.len(), 4);
        for x in &v {
            assert_eq!(x.len(), 384);
            let norm: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5);
        }
        // Same bag of lowercased words => identical vectors; disjoint words => (near) orthogonal.
        assert!((cosine_similarity(&v[0], &v[1]) - 1.0).abs() < 1e-6);
        assert!(cosine_similarity(&v[0], &v[2]).abs() < 0.5);
        assert_eq!(v, e.embed(&texts).await.unwrap());
        assert_eq!(e.embed_calls(), 2);
        assert_eq!(e.count_tokens("  two   words "), 2);
        assert_eq!(e.name(), "fake:hash");
        // Pinned so an accidental change to the hashing (which would silently change test rankings) is noticed.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
