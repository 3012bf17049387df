//! Local embedder throughput on this machine: prints numbers, asserts nothing about speed.
//!
//!     cargo bench --bench embed_throughput            (model dir from BWENGE_TEST_MODEL_DIR,
//!                                                      default /var/tmp/bwenge-model/all-MiniLM-L6-v2)
//!
//! Runs the model in f32, then in int8 (where the CPU has AVX-512 VNNI or AVX2), and compares their passage vectors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use bwenge::platform::llm::embeddings::{Embedder, LocalEmbedder};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir =
        std::env::var("BWENGE_TEST_MODEL_DIR").unwrap_or_else(|_| "/var/tmp/bwenge-model/all-MiniLM-L6-v2".into());
    let Some(exact) = run(&dir, false).await else { return };
    if !bwenge_bert::int8::supported() {
        println!("int8: this CPU has neither AVX-512 VNNI nor AVX2");
        return;
    }
    let Some(int8) = run(&dir, true).await else { return };
    let worst = exact
        .iter()
        .zip(&int8)
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
        .fold(f32::INFINITY, f32::min);
    println!("int8 against f32: lowest cosine of a passage vector {worst:.4}");
}

/// Times short and long inputs; returns the passages' vectors.
async fn run(dir: &str, int8: bool) -> Option<Vec<Vec<f32>>> {
    println!("--- {}", if int8 { "int8" } else { "f32" });
    let e = match LocalEmbedder::new(dir).map(|e| e.with_int8(int8)) {
        Ok(e) => e,
        Err(err) => {
            eprintln!("no model at {dir}: {err} (run `bwenge model fetch --dir {dir}`)");
            return None;
        }
    };

    let start = Instant::now();
    e.warm_up().await.unwrap();
    println!("model load: {:.2?}", start.elapsed());

    let topics = ["fractions", "photosynthesis", "the French revolution", "Python loops", "plate tectonics"];
    let short: Vec<String> = (0..1000)
        .map(|i| format!("Question {i}: can you explain {} to a beginner?", topics[i % topics.len()]))
        .collect();
    let words = "the student reads a short passage about how energy moves through an ecosystem and then answers \
                 questions that check understanding of producers consumers decomposers and food webs while the tutor \
                 gives hints";
    let words: Vec<&str> = words.split_whitespace().collect();
    let passages: Vec<String> =
        (0..200).map(|i| (0..200).map(|j| words[(i * 7 + j) % words.len()]).collect::<Vec<_>>().join(" ")).collect();
    let avg_tokens = passages.iter().map(|p| e.count_tokens(p)).sum::<usize>() / passages.len();

    let start = Instant::now();
    let v = e.embed(&short).await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!("short: {} sentences in {secs:.2}s = {:.1} sentences/s", v.len(), v.len() as f64 / secs);

    let start = Instant::now();
    let v = e.embed(&passages).await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "passages: {} x 200 words (~{avg_tokens} tokens before truncation to 256) in {secs:.2}s = {:.1} passages/s",
        v.len(),
        v.len() as f64 / secs
    );
    Some(v)
}
