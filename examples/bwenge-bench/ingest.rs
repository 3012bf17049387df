//! Ingest throughput, search latency as the collection grows, and a restart with that data (the port of
//! benches/ingest_search.py, plus the start-up on a full data dir).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

use crate::client::Api;
use crate::corpus;
use crate::fake::Stats;
use crate::report::{Report, latency, mib, p50_p99, round};
use crate::server::{Launch, Server};
use crate::startup;

/// Open WebUI on the same kind of machine with an instant fake embedder: 20 × 50 KB in 12 s (issue 4).
const OPEN_WEBUI_KBPS: f64 = 81.0;

pub struct Plan {
    pub docs: usize,
    pub doc_kib: usize,
    /// Size of the documents added to reach a scale, as ingest_search.py's `--bulk-doc-kb`.
    pub bulk_doc_kib: usize,
    pub parallel_uploads: usize,
    /// Chunk counts to search at; empty: no search scenario.
    pub scales: Vec<u64>,
    pub searches: usize,
    pub restart: bool,
    pub idle: Duration,
    pub embedder: String,
}

pub async fn run(
    launch: &Launch,
    fake: Option<Arc<Stats>>,
    work_dir: &Path,
    plan: &Plan,
    report: &mut Report,
) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("bwenge-bench-data-").tempdir_in(work_dir)?;
    let mut server = Server::start(launch, dir.path(), Duration::from_secs(120)).await?;
    let mut api = Api::new(server.port)?;
    api.register().await?;
    let collection = api.create_collection("bench").await?;

    let inputs_before = fake.as_ref().map(|s| s.inputs());
    let mut run = ingest(&api, &collection, 0, plan.docs, plan.doc_kib, plan.parallel_uploads).await?;
    let chunks = run["chunks"].as_u64().unwrap_or(0);
    let context = format!(
        "{} embedder, {} × {} KiB generated notes, {} parallel uploads",
        plan.embedder, plan.docs, plan.doc_kib, plan.parallel_uploads
    );
    run["x_open_webui"] = json!(round(run["kb_per_s"].as_f64().unwrap_or(0.0) / OPEN_WEBUI_KBPS, 1));
    report.row(
        "ingest throughput",
        format!("{} KB/s, {} chunks/s ({chunks} chunks)", run["kb_per_s"], run["chunks_per_s"]),
        &context,
    );
    if let (Some(stats), Some(before)) = (&fake, inputs_before) {
        let inputs = stats.inputs() - before;
        run["embedding_inputs"] = json!(inputs);
        run["inputs_per_chunk"] = json!(round(inputs as f64 / chunks.max(1) as f64, 2));
        report.row("embedding inputs per chunk", format!("{} ({inputs} inputs)", run["inputs_per_chunk"]), &context);
    }
    report.section("ingest", run.clone());

    let mut total = chunks;
    let mut next_index = plan.docs;
    let chunks_per_kib = chunks.max(1) as f64 / (plan.docs * plan.doc_kib) as f64;
    let mut steps = Vec::new();
    for &target in &plan.scales {
        let mut bulk = Value::Null;
        if total < target {
            let per_doc = chunks_per_kib * plan.bulk_doc_kib as f64;
            let count = (((target - total) as f64 / per_doc).ceil() as usize).max(1);
            bulk = ingest(&api, &collection, next_index, count, plan.bulk_doc_kib, plan.parallel_uploads).await?;
            next_index += count;
            total += bulk["chunks"].as_u64().unwrap_or(0);
            let context = format!(
                "{} embedder, {count} × {} KiB more, from {} to {total} chunks",
                plan.embedder,
                plan.bulk_doc_kib,
                total - bulk["chunks"].as_u64().unwrap_or(0)
            );
            report.row(
                &format!("bulk ingest to {total} chunks"),
                format!("{} KB/s, {} chunks/s", bulk["kb_per_s"], bulk["chunks_per_s"]),
                &context,
            );
        }
        let search = search_latency(&api, &collection, plan.searches).await?;
        let context = format!(
            "{} sequential POST /search, top_k 5, one keep-alive connection, {} embedder",
            plan.searches, plan.embedder
        );
        report.row(&format!("search p50 / p99 at {total} chunks"), p50_p99(&search), &context);
        steps.push(json!({"target": target, "chunks": total, "bulk_ingest": bulk, "search": search,
            "rss_mib": mib(server.rss_kib()?)}));
        report.section("search", Value::Array(steps.clone()));
    }

    if plan.restart {
        let stop_ms = server.stop().await?;
        let (restarted, mut figures) =
            startup::measure(launch, dir.path(), plan.idle, Duration::from_secs(600)).await?;
        server = restarted;
        api.port = server.port;
        // The first search after a start pays for loading what is lazily loaded (segments, page cache).
        let started = Instant::now();
        api.search(&collection, "loop function recursion").await?;
        figures["first_search_ms"] = json!(round(started.elapsed().as_secs_f64() * 1000.0, 2));
        figures["chunks"] = json!(total);
        figures["stop_ms"] = json!(round(stop_ms, 1));
        let context = format!("same data dir, {total} chunks, SIGTERM then start; idle {} s", plan.idle.as_secs_f64());
        report.row(
            &format!("start-up with {total} chunks → /readyz 200"),
            format!("{} ms (stop took {} ms)", figures["ready_ms"], figures["stop_ms"]),
            &context,
        );
        report.row(
            &format!("idle RSS with {total} chunks"),
            format!("{} MiB (peak {})", figures["idle_rss_mib"], figures["peak_rss_mib"]),
            &context,
        );
        report.row(
            &format!("first search after restart, {total} chunks"),
            format!("{} ms", figures["first_search_ms"]),
            &context,
        );
        report.section("restart", figures);
    }
    server.stop().await?;
    Ok(())
}

/// Uploads `count` generated documents and waits until all are ready. Throughput is measured from the first
/// upload to the last document's `updated_at` (the server's own clock, on this machine), as ingest_search.py does,
/// so the poll interval does not count.
async fn ingest(
    api: &Api,
    collection: &str,
    first: usize,
    count: usize,
    doc_kib: usize,
    parallel: usize,
) -> anyhow::Result<Value> {
    // Generated before the clock starts: the bench's own CPU would otherwise compete with the server's.
    let docs: Vec<(String, Vec<u8>)> =
        (first..first + count).map(|i| (format!("notes_{i:05}.txt"), corpus::document(i, doc_kib * 1024))).collect();
    let bytes: usize = docs.iter().map(|(_, d)| d.len()).sum();
    let wall_start = chrono::Utc::now();
    let started = Instant::now();
    let ids: HashSet<String> = futures_util::stream::iter(docs)
        .map(|(name, content)| async move { api.upload(collection, &name, content).await })
        .buffer_unordered(parallel.max(1))
        .try_collect()
        .await?;
    let upload_secs = started.elapsed().as_secs_f64();
    let views = api.wait_ready(collection, &ids, Duration::from_secs(7200)).await?;
    let polled_secs = started.elapsed().as_secs_f64();
    let last_ready = views
        .iter()
        .filter_map(|v| v["updated_at"].as_str())
        .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .max()
        .context("no document has an updated_at")?;
    let seconds = ((last_ready.with_timezone(&chrono::Utc) - wall_start).num_microseconds().unwrap_or(0) as f64 / 1e6)
        // Clock skew could never make it shorter than the uploads themselves.
        .max(upload_secs)
        .max(1e-3);
    let chunks: u64 = views.iter().filter_map(|v| v["chunk_count"].as_u64()).sum();
    Ok(json!({
        "documents": count,
        "doc_kib": doc_kib,
        "bytes": bytes,
        "chunks": chunks,
        "seconds": round(seconds, 3),
        "upload_seconds": round(upload_secs, 3),
        "seconds_until_polled_ready": round(polled_secs, 3),
        "kb_per_s": round(bytes as f64 / seconds / 1e3, 1),
        "mb_per_s": round(bytes as f64 / seconds / 1e6, 3),
        "chunks_per_s": round(chunks as f64 / seconds, 1),
    }))
}

/// `count` sequential searches after 10 warm-up ones (connection, page cache, lazy loads); each must find something.
async fn search_latency(api: &Api, collection: &str, count: usize) -> anyhow::Result<Value> {
    let queries = corpus::queries(count + 10);
    let mut times = Vec::with_capacity(count);
    for (i, query) in queries.iter().enumerate() {
        let started = Instant::now();
        let hits = api.search(collection, query).await?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        if hits["results"].as_array().is_none_or(Vec::is_empty) {
            anyhow::bail!("the search for {query:?} found nothing");
        }
        if i >= 10 {
            times.push(elapsed);
        }
    }
    Ok(latency(&times))
}
