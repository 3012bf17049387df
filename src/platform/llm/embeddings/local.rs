//! sentence-transformers all-MiniLM-L6-v2 on the CPU, with our own encoder (`crates/bert`).
//!
//! Reproduces the sentence-transformers pipeline of this model: BERT forward pass over at most 256 word pieces
//! (its `max_seq_length`, although BERT itself allows 512), mean pooling over the attention mask, then L2
//! normalisation. The weights are memory-mapped and loaded on first use, so an idle server pays nothing for them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tokenizers::{Tokenizer, TruncationParams};
use tokio::sync::{OnceCell, Semaphore};

use super::{EmbedError, Embedder, SpannedText, SpannedVectors, l2_normalize};
use bwenge_bert::{Bert, Config};

const MODEL_NAME: &str = "local:all-MiniLM-L6-v2";
/// sentence-transformers' `max_seq_length` for this model; the model was trained on sequences this long, and
/// attention cost grows with the square of the length.
const MAX_TOKENS: usize = 256;
const DIMENSIONS: usize = 384;
/// Most inputs per forward pass. Short texts gain from big batches (fixed per-pass overhead is shared)...
const DEFAULT_MAX_BATCH_INPUTS: usize = 128;
/// ...and a pass holds at most this many tokens (8 inputs of 256). Inputs are packed without padding, so this
/// bounds a pass's working memory (~35 MB of activations) and how long a query waits behind ingest, since the
/// gate below is taken per pass.
const DEFAULT_MAX_BATCH_TOKENS: usize = 2048;
pub(super) const REQUIRED_FILES: [&str; 3] = ["model.safetensors", "tokenizer.json", "config.json"];

/// The local MiniLM embedder. Cheap to construct; the model loads on the first [`Embedder::embed`] call.
pub struct LocalEmbedder {
    inner: Arc<Inner>,
    max_batch_inputs: usize,
    max_batch_tokens: usize,
    /// Run the linear layers in int8 where the CPU can (see `bwenge_bert::int8`).
    int8: bool,
}

/// The state that blocking tasks need, behind an `Arc` because `spawn_blocking` closures must be `'static`.
struct Inner {
    dir: PathBuf,
    /// Loaded synchronously on first need, because [`Embedder::count_tokens`] is not async. The error is kept as a
    /// string so every later call reports it instead of retrying a load that cannot succeed.
    tokenizers: OnceLock<Result<Tokenizers, String>>,
    model: OnceCell<Arc<Bert>>,
    /// One forward pass at a time: a pass already spreads over all cores, so concurrent passes would only
    /// contend. Taking the permit per batch (not per call) lets a short query interleave with a long ingestion job.
    /// `Arc` so the permit can move into the blocking task and outlive a caller that gives up (drops its future).
    gate: Arc<Semaphore>,
}

struct Tokenizers {
    /// No truncation, no padding: for counting.
    counting: Tokenizer,
    /// Truncates to [`MAX_TOKENS`] (keeping `[CLS]`/`[SEP]`); we pad per batch ourselves.
    embedding: Tokenizer,
}

impl LocalEmbedder {
    /// Points at a directory holding `model.safetensors`, `tokenizer.json` and `config.json` (see
    /// `bwenge model fetch`). Only checks that the files exist; loading happens on first use.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, EmbedError> {
        let dir = dir.into();
        for file in REQUIRED_FILES {
            let path = dir.join(file);
            if !path.is_file() {
                return Err(EmbedError::ModelMissing(format!(
                    "{} not found (fetch the model with `bwenge model fetch --dir {}`)",
                    path.display(),
                    dir.display()
                )));
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                dir,
                tokenizers: OnceLock::new(),
                model: OnceCell::new(),
                gate: Arc::new(Semaphore::new(1)),
            }),
            int8: false,
            max_batch_inputs: DEFAULT_MAX_BATCH_INPUTS,
            max_batch_tokens: DEFAULT_MAX_BATCH_TOKENS,
        })
    }

    /// Overrides the most inputs per forward pass (default 128; at least 1).
    pub fn with_batch_size(mut self, max_inputs: usize) -> Self {
        self.max_batch_inputs = max_inputs.max(1);
        self
    }

    /// Overrides the most tokens per forward pass (default 2048). A single input longer than this still
    /// forms a batch of its own.
    pub fn with_batch_tokens(mut self, max_tokens: usize) -> Self {
        self.max_batch_tokens = max_tokens.max(1);
        self
    }

    /// Runs the model's linear layers in int8 on CPUs with AVX-512 VNNI or AVX2 (f32 elsewhere, logged at load). Call
    /// before the first use.
    pub fn with_int8(mut self, int8: bool) -> Self {
        self.int8 = int8;
        self
    }

    /// The directory the model is loaded from.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Loads the model now instead of on the first `embed` (e.g. to fail fast at startup, or to keep load time out
    /// of a latency measurement).
    pub async fn warm_up(&self) -> Result<(), EmbedError> {
        self.model().await.map(drop)
    }

    async fn model(&self) -> Result<Arc<Bert>, EmbedError> {
        let model = self
            .inner
            .model
            .get_or_try_init(|| async {
                let (dir, int8) = (self.inner.dir.clone(), self.int8);
                let model = tokio::task::spawn_blocking(move || load_model(&dir, int8))
                    .await
                    .map_err(|e| EmbedError::Load(format!("model loading task failed: {e}")))??;
                tracing::info!(dir = %self.inner.dir.display(), "loaded local embedding model");
                Ok::<_, EmbedError>(Arc::new(model))
            })
            .await?;
        Ok(Arc::clone(model))
    }
}

impl Inner {
    fn tokenizers(&self) -> Result<&Tokenizers, EmbedError> {
        self.tokenizers.get_or_init(|| load_tokenizers(&self.dir)).as_ref().map_err(|e| EmbedError::Load(e.clone()))
    }
}

fn load_tokenizers(dir: &Path) -> Result<Tokenizers, String> {
    let path = dir.join("tokenizer.json");
    let mut counting = Tokenizer::from_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    // The shipped tokenizer.json pads and truncates to a fixed 128; we want neither when counting.
    counting.with_padding(None);
    counting.with_truncation(None).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut embedding = counting.clone();
    embedding
        .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..TruncationParams::default() }))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Tokenizers { counting, embedding })
}

fn load_model(dir: &Path, int8: bool) -> Result<Bert, EmbedError> {
    let config_path = dir.join("config.json");
    let config = std::fs::read_to_string(&config_path)
        .map_err(|e| EmbedError::Load(format!("{}: {e}", config_path.display())))?;
    let config: Config =
        serde_json::from_str(&config).map_err(|e| EmbedError::Load(format!("{}: {e}", config_path.display())))?;
    if config.hidden_size != DIMENSIONS {
        return Err(EmbedError::Load(format!(
            "{} has hidden_size {}, expected {DIMENSIONS} for all-MiniLM-L6-v2",
            config_path.display(),
            config.hidden_size
        )));
    }
    let weights = dir.join("model.safetensors");
    let mut model =
        Bert::load(&weights, &config).map_err(|e| EmbedError::Load(format!("{}: {e}", weights.display())))?;
    let quantized = int8 && model.quantize();
    if int8 && !quantized {
        tracing::warn!(
            "embeddings.precision is int8 but this CPU has neither AVX-512 VNNI nor AVX2: the model runs in f32"
        );
    }
    tracing::info!(precision = if quantized { "int8" } else { "f32" }, "local embedding model precision");
    Ok(model)
}

/// Splits `order` (input indices sorted by decreasing length) into batches of at most `max_inputs` inputs and
/// `max_tokens` tokens, counting each input as long as the batch's first (longest) one.
pub(super) fn plan_batches(
    order: &[usize],
    len: impl Fn(usize) -> usize,
    max_inputs: usize,
    max_tokens: usize,
) -> Vec<Vec<usize>> {
    let mut batches = Vec::new();
    let mut rest = order;
    while let Some(&first) = rest.first() {
        let take = (max_tokens / len(first).max(1)).clamp(1, max_inputs.max(1)).min(rest.len());
        let (batch, tail) = rest.split_at(take);
        batches.push(batch.to_vec());
        rest = tail;
    }
    batches
}

/// Token ids of one input, already truncated, with each token's byte range in the text (only when spans were
/// asked for: tracking offsets costs the tokenizer time) and whether it is a special token.
struct Encoded {
    ids: Vec<u32>,
    offsets: Vec<(usize, usize)>,
    special: Vec<bool>,
}

fn tokenize(inner: &Inner, texts: &[&str], offsets: bool) -> Result<Vec<Encoded>, EmbedError> {
    let tokenizer = &inner.tokenizers()?.embedding;
    let texts = texts.to_vec();
    let encodings =
        if offsets { tokenizer.encode_batch(texts, true) } else { tokenizer.encode_batch_fast(texts, true) }
            .map_err(|e| EmbedError::Inference(e.to_string()))?;
    Ok(encodings
        .into_iter()
        .map(|enc| Encoded {
            ids: enc.get_ids().to_vec(),
            offsets: if offsets { enc.get_offsets().to_vec() } else { Vec::new() },
            special: enc.get_special_tokens_mask().iter().map(|&m| m == 1).collect(),
        })
        .collect())
}

/// One forward pass over `batch`. Returns each input's token vectors (its own tokens only, `DIMENSIONS` floats
/// each, row after row).
fn forward(model: &Bert, batch: &[&Encoded]) -> Result<Vec<Vec<f32>>, EmbedError> {
    let ids: Vec<&[u32]> = batch.iter().map(|e| e.ids.as_slice()).collect();
    model.forward(&ids).map_err(|e| EmbedError::Inference(e.to_string()))
}

/// The normalised mean of the token vectors at `rows` of `tokens`; `None` when there are none.
fn mean_pool(tokens: &[f32], rows: impl Iterator<Item = usize>) -> Result<Option<Vec<f32>>, EmbedError> {
    let mut sum = vec![0f32; DIMENSIONS];
    let mut count = 0usize;
    for row in rows {
        for (s, x) in sum.iter_mut().zip(&tokens[row * DIMENSIONS..(row + 1) * DIMENSIONS]) {
            *s += x;
        }
        count += 1;
    }
    if count == 0 {
        return Ok(None);
    }
    // Dividing by the count does not change the direction; normalising is what makes it the mean's unit vector.
    if !l2_normalize(&mut sum) {
        return Err(EmbedError::Inference("model produced a zero or non-finite vector".into()));
    }
    Ok(Some(sum))
}

/// The vectors of one input from its token vectors: mean pooling over every token including `[CLS]` and `[SEP]`,
/// exactly as sentence-transformers does for this model; each span over the ordinary tokens inside it.
fn pool(enc: &Encoded, tokens: &[f32], input: &SpannedText) -> Result<SpannedVectors, EmbedError> {
    let whole = mean_pool(tokens, 0..enc.ids.len())?
        .ok_or_else(|| EmbedError::Inference("tokenizer produced no tokens".into()))?;
    let spans = input
        .spans
        .iter()
        .map(|span| {
            let inside = |t: &usize| {
                let (start, end) = enc.offsets[*t];
                !enc.special[*t] && end > start && start >= span.start && end <= span.end
            };
            if !(0..enc.ids.len()).any(|t| inside(&t)) {
                return Ok(None); // truncated away
            }
            let context = |t: &usize| enc.special[*t] || enc.offsets[*t].1 <= input.context;
            mean_pool(tokens, (0..enc.ids.len()).filter(|t| inside(t) || context(t)))
        })
        .collect::<Result<_, _>>()?;
    Ok(SpannedVectors { whole, spans })
}

impl LocalEmbedder {
    /// Tokenizes, batches inputs of similar length, runs the passes one at a time and pools each input.
    async fn run(&self, texts: Arc<Vec<SpannedText>>) -> Result<Vec<SpannedVectors>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.model().await?;
        let inner = Arc::clone(&self.inner);
        let owned = Arc::clone(&texts);
        let encoded = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = owned.iter().map(|t| t.text.as_str()).collect();
            tokenize(&inner, &refs, owned.iter().any(|t| !t.spans.is_empty()))
        })
        .await
        .map_err(|e| EmbedError::Inference(format!("tokenizer task failed: {e}")))??;
        let encoded = Arc::new(encoded);

        // Longest first, so that a batch's token budget (its count times its first, longest input) is a tight
        // bound; results go back to input order at the end.
        let mut order: Vec<usize> = (0..encoded.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encoded[i].ids.len()));

        let mut out: Vec<Option<SpannedVectors>> = vec![None; texts.len()];
        let batches = plan_batches(&order, |i| encoded[i].ids.len(), self.max_batch_inputs, self.max_batch_tokens);
        for batch in batches {
            let permit = Arc::clone(&self.inner.gate)
                .acquire_owned()
                .await
                .map_err(|e| EmbedError::Inference(format!("gate closed: {e}")))?;
            let (model, encoded, texts) = (Arc::clone(&model), Arc::clone(&encoded), Arc::clone(&texts));
            // Blocking pool: a forward pass takes tens to hundreds of milliseconds of pure CPU. The permit lives in
            // the task, because the task runs to completion even if this future is dropped.
            let (batch, vectors) = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let inputs: Vec<&Encoded> = batch.iter().map(|&i| &encoded[i]).collect();
                let vectors = forward(&model, &inputs).and_then(|tokens| {
                    batch.iter().zip(&tokens).map(|(&i, t)| pool(&encoded[i], t, &texts[i])).collect()
                });
                (batch, vectors)
            })
            .await
            .map_err(|e| EmbedError::Inference(format!("inference task failed: {e}")))?;
            let vectors: Vec<SpannedVectors> = vectors?;
            for (i, v) in batch.into_iter().zip(vectors) {
                out[i] = Some(v);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

#[async_trait::async_trait]
impl Embedder for LocalEmbedder {
    fn name(&self) -> &str {
        MODEL_NAME
    }

    fn dimensions(&self) -> usize {
        DIMENSIONS
    }

    fn max_tokens(&self) -> usize {
        MAX_TOKENS
    }

    /// Word pieces including `[CLS]` and `[SEP]`, so a text with `count_tokens(t) <= max_tokens()` is embedded
    /// without truncation. If the tokenizer cannot be loaded, falls back to the chars/4 approximation (the error
    /// surfaces from `embed`).
    fn count_tokens(&self, text: &str) -> usize {
        match self.inner.tokenizers() {
            Ok(t) => match t.counting.encode_fast(text, true) {
                Ok(enc) => enc.len(),
                Err(e) => {
                    tracing::warn!(error = %e, "tokenizer failed while counting; approximating");
                    text.chars().count().div_ceil(4)
                }
            },
            Err(_) => text.chars().count().div_ceil(4),
        }
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let texts = texts.iter().map(|t| SpannedText { text: t.clone(), spans: Vec::new(), context: 0 }).collect();
        Ok(self.run(Arc::new(texts)).await?.into_iter().map(|v| v.whole).collect())
    }

    async fn embed_spans(&self, texts: &[SpannedText]) -> Result<Vec<SpannedVectors>, EmbedError> {
        self.run(Arc::new(texts.to_vec())).await
    }
}
