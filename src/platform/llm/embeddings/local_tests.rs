//! Tests of [`LocalEmbedder`] against the real model. They need the model files: set `BWENGE_TEST_MODEL_DIR`
//! (default `/var/tmp/bwenge-model/all-MiniLM-L6-v2`, filled by `bwenge model fetch`); without them each test
//! prints a note and passes, so a checkout without the model still builds and tests.

use std::path::PathBuf;

use super::local::plan_batches;
use super::{EmbedError, Embedder, LocalEmbedder, SpannedText, cosine_similarity};

const DEFAULT_MODEL_DIR: &str = "/var/tmp/bwenge-model/all-MiniLM-L6-v2";

fn embedder() -> Option<LocalEmbedder> {
    let dir = std::env::var_os("BWENGE_TEST_MODEL_DIR").map_or_else(|| PathBuf::from(DEFAULT_MODEL_DIR), PathBuf::from);
    match LocalEmbedder::new(&dir) {
        Ok(e) => Some(e),
        Err(err) => {
            println!("skipping local embedder test: {err}");
            None
        }
    }
}

fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|s| s.to_string()).collect()
}

fn assert_unit(v: &[f32]) {
    let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
}

/// A 5,000-word text, far beyond the 256-token budget.
fn long_text() -> String {
    (0..5000).map(|i| format!("word{}", i % 50)).collect::<Vec<_>>().join(" ")
}

#[test]
fn missing_files_are_reported_by_name() {
    let dir = std::env::temp_dir().join(format!("bwenge-no-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), "{}").unwrap();
    std::fs::write(dir.join("tokenizer.json"), "{}").unwrap();
    let err = LocalEmbedder::new(&dir).err().unwrap();
    assert!(matches!(&err, EmbedError::ModelMissing(m) if m.contains("model.safetensors")), "{err}");
    assert!(!err.retryable());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn batches_respect_input_and_token_limits() {
    let lens = [256, 256, 100, 30, 10, 10, 10, 2];
    let order: Vec<usize> = (0..lens.len()).collect();
    let plan = |max_inputs, max_tokens| plan_batches(&order, |i| lens[i], max_inputs, max_tokens);
    assert_eq!(plan(128, 512), vec![vec![0, 1], vec![2, 3, 4, 5, 6], vec![7]]);
    assert_eq!(plan(3, 512), vec![vec![0, 1], vec![2, 3, 4], vec![5, 6, 7]]);
    // An input longer than the token budget still gets a batch of its own.
    assert_eq!(plan(128, 100)[0], vec![0]);
    assert!(plan(128, 2048).concat() == order);
}

#[tokio::test]
async fn corrupt_files_fail_at_first_use_not_construction() {
    let dir = std::env::temp_dir().join(format!("bwenge-bad-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["model.safetensors", "tokenizer.json", "config.json"] {
        std::fs::write(dir.join(file), "not what it should be").unwrap();
    }
    let e = LocalEmbedder::new(&dir).unwrap();
    // Tokenizer unusable: counting falls back to the chars/4 estimate instead of failing.
    assert_eq!(e.count_tokens("12345678"), 2);
    let err = e.embed(&strings(&["hello"])).await.unwrap_err();
    assert!(matches!(err, EmbedError::Load(_)), "{err:?}");
    assert!(e.warm_up().await.is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// First 8 dimensions of `SentenceTransformer(<the packaged model dir>).encode(...)` from sentence-transformers
/// 6.2.0 (torch 2.15, CPU), which runs the model's own modules.json pipeline: Transformer (max_seq_length 256),
/// mean Pooling, Normalize.
#[tokio::test]
async fn matches_sentence_transformers_reference() {
    let Some(e) = embedder() else { return };
    let cases: [(String, [f32; 8]); 5] = [
        (
            "The cat sits on the mat.".into(),
            [0.134177, -0.032900, -0.024804, 0.041439, -0.036348, 0.041814, 0.031217, 0.037202],
        ),
        (
            "How do I loop over numbers in Python?".into(),
            [0.058692, 0.067243, -0.018764, -0.044936, -0.032005, -0.062241, 0.096226, 0.006345],
        ),
        (
            "Photosynthesis converts light into chemical energy.".into(),
            [-0.007942, 0.075093, -0.058765, 0.084289, 0.011364, -0.006064, 0.031152, 0.023653],
        ),
        ("".into(), [-0.118838, 0.048299, -0.002548, -0.011011, 0.051951, 0.010292, 0.115433, 0.000701]),
        // Only matches if truncation happens at 256 tokens like sentence-transformers (not 128 or 512).
        (long_text(), [0.004672, -0.058774, -0.039712, -0.016036, 0.016489, 0.011557, 0.082817, -0.027109]),
    ];
    let texts: Vec<String> = cases.iter().map(|(t, _)| t.clone()).collect();
    let vectors = e.embed(&texts).await.unwrap();
    assert_eq!(vectors.len(), cases.len());
    for ((text, expected), got) in cases.iter().zip(&vectors) {
        assert_eq!(got.len(), 384);
        assert_unit(got);
        for (j, (g, x)) in got.iter().zip(expected).enumerate() {
            assert!((g - x).abs() < 1e-3, "{:.40}: dim {j}: got {g}, expected {x}", text);
        }
    }
}

/// int8 (on a CPU with AVX-512 VNNI or AVX2) against f32 on sentences, a passage and a text past the token budget: the
/// vectors point the same way and keep the ranking of the test below. Cosine ≥ 0.99: measured 0.9966-0.9982 with
/// VNNI, 0.9917-0.9972 with AVX2, whose weights have 7 bits instead of 8 (see `bwenge_bert::int8`), the lowest on
/// the synthetic `word0 word1 …` text. A one-word input sits lower (0.98 for "Why?": few tokens for the rounding
/// to average over), so none is here.
#[tokio::test]
async fn int8_vectors_stay_close_to_f32() {
    let Some(exact) = embedder() else { return };
    if !bwenge_bert::int8::supported() {
        println!("skipping: this CPU has neither AVX-512 VNNI nor AVX2");
        return;
    }
    let int8 = LocalEmbedder::new(exact.dir()).unwrap().with_int8(true);
    let texts = strings(&[
        "The cat sits on the mat.",
        "How do I loop over numbers?",
        "range() generates arithmetic progressions for loops",
        "The json module parses JSON",
        "Photosynthesis converts light into chemical energy in the chloroplasts of plant cells, where chlorophyll \
         absorbs red and blue light and the energy splits water, releasing oxygen.",
    ]);
    let mut texts = texts;
    texts.push(long_text());
    let (want, got) = (exact.embed(&texts).await.unwrap(), int8.embed(&texts).await.unwrap());
    for ((text, w), g) in texts.iter().zip(&want).zip(&got) {
        assert_unit(g);
        let cos = cosine_similarity(w, g);
        println!("{text:.40}: cosine {cos}");
        assert!(cos >= 0.99, "{text:.40}: cosine {cos}");
    }
    assert!(cosine_similarity(&got[1], &got[2]) > cosine_similarity(&got[1], &got[3]));
}

#[tokio::test]
async fn ranks_related_text_higher() {
    let Some(e) = embedder() else { return };
    let texts = strings(&[
        "How do I loop over numbers?",
        "range() generates arithmetic progressions for loops",
        "The json module parses JSON",
    ]);
    let v = e.embed(&texts).await.unwrap();
    let related = cosine_similarity(&v[0], &v[1]);
    let unrelated = cosine_similarity(&v[0], &v[2]);
    assert!(related > unrelated, "related {related} <= unrelated {unrelated}");
}

#[tokio::test]
async fn empty_and_long_inputs_work() {
    let Some(e) = embedder() else { return };
    assert!(e.embed(&[]).await.unwrap().is_empty());
    let long = long_text();
    assert!(e.count_tokens(&long) > 5000, "counting must not truncate");
    let v = e.embed(&[String::new(), long]).await.unwrap();
    assert_eq!(v.len(), 2);
    v.iter().for_each(|x| assert_unit(x));
}

#[tokio::test]
async fn batch_of_100_keeps_order_and_matches_single_embeddings() {
    let Some(e) = embedder() else { return };
    let e = e.with_batch_size(16);
    // Varying lengths, so that sorting by length really reorders inputs across batches.
    let texts: Vec<String> =
        (0..100).map(|i| format!("Item {i}: {}", "a lesson about fractions and decimals ".repeat(i % 7 + 1))).collect();
    let batch = e.embed(&texts).await.unwrap();
    assert_eq!(batch.len(), 100);
    batch.iter().for_each(|v| assert_unit(v));
    // Padding must not change results: each vector equals the one computed alone.
    for i in [0, 13, 57, 99] {
        let single = e.embed(&texts[i..=i]).await.unwrap();
        let sim = cosine_similarity(&single[0], &batch[i]);
        assert!(sim > 0.99999, "input {i}: similarity to its own single embedding is {sim}");
    }
}

#[tokio::test]
async fn metadata_and_token_counts() {
    let Some(e) = embedder() else { return };
    assert_eq!(e.name(), "local:all-MiniLM-L6-v2");
    assert_eq!(e.dimensions(), 384);
    assert_eq!(e.max_tokens(), 256);
    // [CLS] hello world [SEP]
    assert_eq!(e.count_tokens("Hello world"), 4);
    assert_eq!(e.count_tokens(""), 2);
    // Word pieces, not words: "photosynthesis" is split.
    assert!(e.count_tokens("photosynthesis") > 3);
}

#[tokio::test]
async fn spans_are_pooled_from_the_same_pass() {
    let Some(e) = embedder() else { return };
    let text = "Fractions. A fraction names part of a whole. Volcanoes erupt when magma rises through the crust.";
    let fractions = text.find("A fraction").unwrap()..text.find(" Volcanoes").unwrap();
    let volcanoes = text.find("Volcanoes").unwrap()..text.len();
    let input = SpannedText { text: text.into(), spans: vec![fractions, volcanoes, 0..0], context: 0 };
    let end = long_text().len();
    let last_word = end - 6..end;
    let long = SpannedText { text: long_text(), spans: vec![last_word], context: 0 };
    let out = e.embed_spans(&[input, long]).await.unwrap();
    let alone = e.embed(&strings(&[text])).await.unwrap();
    assert!(cosine_similarity(&out[0].whole, &alone[0]) > 0.99999, "the whole text as `embed` gives it");
    let spans: Vec<&Vec<f32>> = out[0].spans[..2].iter().map(|s| s.as_ref().unwrap()).collect();
    spans.iter().for_each(|s| assert_unit(s));
    assert!(out[0].spans[2].is_none(), "an empty span has no tokens");
    assert!(out[1].spans[0].is_none(), "a span past the 256-token cut was truncated away");
    // Each span leans towards its own subject.
    let query = e.embed(&strings(&["What is a fraction?", "Why do volcanoes erupt?"])).await.unwrap();
    assert!(cosine_similarity(&query[0], spans[0]) > cosine_similarity(&query[0], spans[1]));
    assert!(cosine_similarity(&query[1], spans[1]) > cosine_similarity(&query[1], spans[0]));
}
