//! bwenge-bench: the load tool. It starts the server under test as a child process, with an instant fake
//! OpenAI-compatible upstream running inside this process, and measures start-up, ingest, search, RAG turns and
//! idle WebSockets through the real API. Output: a markdown table on stdout and the full JSON in `--out`.
//!
//!     cargo build --release --bin bwenge --example bwenge-bench
//!     $CARGO_TARGET_DIR/release/examples/bwenge-bench --binary $CARGO_TARGET_DIR/release/bwenge \
//!         --quick --out /tmp/bench.json
//!
//! It replaces benches/{startup,ingest_search,chat_load}.py and their fakes; see benches/README.md.

mod client;
mod corpus;
mod fake;
mod ingest;
mod report;
mod server;
mod startup;
mod turns;
mod ws_idle;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::{Parser, ValueEnum};
use serde_json::json;

use crate::report::Report;
use crate::server::{Embedder, Launch};

#[derive(Parser, Debug)]
#[command(about = "Load and memory benchmarks of a bwenge binary, through its real API")]
struct Args {
    /// The `bwenge` binary to measure (a release build for figures worth publishing).
    #[arg(long)]
    binary: PathBuf,
    /// `fake`: the in-process instant `/v1/embeddings`; `local`: the built-in model from `--model-dir`.
    #[arg(long, value_enum, default_value_t = EmbedderKind::Fake)]
    embedder: EmbedderKind,
    /// all-MiniLM-L6-v2's directory, for `--embedder local` (never fetched by the bench).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Which measurements, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "startup,ingest,search,restart,turns,ws-idle")]
    scenarios: Vec<Scenario>,
    /// Chunk counts to grow one collection to and search at [default: 10000,100000; quick: 1000].
    #[arg(long, value_delimiter = ',')]
    scales: Option<Vec<u64>>,
    /// Concurrent chat clients, each value run over HTTP JSON and over the WebSocket [default: 50,500; quick: 5].
    #[arg(long, value_delimiter = ',')]
    clients: Option<Vec<usize>>,
    /// Idle WebSocket connections to hold [default: 10000; quick: 100].
    #[arg(long)]
    idle: Option<usize>,
    /// Small sizes for a smoke run that finishes well under a minute.
    #[arg(long)]
    quick: bool,
    /// Sequential RAG turns [default: 300; quick: 50].
    #[arg(long)]
    turns: Option<usize>,
    /// Turns per concurrent client after its warm-up [default: 10 for up to 100 clients, down to 2 for 500].
    #[arg(long)]
    turns_per_client: Option<usize>,
    /// Searches timed at each scale [default: 200; quick: 50].
    #[arg(long)]
    searches: Option<usize>,
    /// Seconds the idle WebSockets are held [default: 20; quick: 3].
    #[arg(long)]
    hold_secs: Option<f64>,
    /// Documents of the ingest figure and their size (Open WebUI's comparison set: 20 × 50 KiB).
    #[arg(long, default_value_t = 20)]
    docs: usize,
    #[arg(long, default_value_t = 50)]
    doc_kib: usize,
    /// Size of the documents that grow the collection to each scale.
    #[arg(long, default_value_t = 500)]
    bulk_doc_kib: usize,
    #[arg(long, default_value_t = 4)]
    parallel_uploads: usize,
    /// Start-ups on an empty data dir; the median is reported [quick: 2].
    #[arg(long)]
    startup_runs: Option<usize>,
    /// Where the servers' data dirs go (removed after) [default: the system's temp dir].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// The JSON results.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum EmbedderKind {
    Fake,
    Local,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Scenario {
    Startup,
    Ingest,
    Search,
    Restart,
    Turns,
    WsIdle,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // reqwest's rustls and sqlx's pull in two crypto providers; with both linked, rustls will not pick one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // The bench client's runtime, one worker per core; the fake upstream has a thread of its own (fake.rs) and
    // the server is another process.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(run(&args))?;
    let command: Vec<String> = std::env::args().collect();
    println!("{}", report.markdown(&command.join(" ")));
    if report.has_errors() {
        bail!("some scenarios failed (see above and `errors` in {})", args.out.display());
    }
    Ok(())
}

async fn run(args: &Args) -> anyhow::Result<Report> {
    if !args.binary.is_file() {
        bail!("no binary at {}", args.binary.display());
    }
    let quick = args.quick;
    let pick = |given: &Option<Vec<u64>>, full: &[u64], small: &[u64]| {
        given.clone().unwrap_or_else(|| if quick { small.to_vec() } else { full.to_vec() })
    };
    let scales = pick(&args.scales, &[10_000, 100_000], &[1_000]);
    let clients: Vec<usize> = args.clients.clone().unwrap_or_else(|| if quick { vec![5] } else { vec![50, 500] });
    let idle_connections = args.idle.unwrap_or(if quick { 100 } else { 10_000 });
    let turns = args.turns.unwrap_or(if quick { 50 } else { 300 });
    let searches = args.searches.unwrap_or(if quick { 50 } else { 200 });
    let hold = Duration::from_secs_f64(args.hold_secs.unwrap_or(if quick { 3.0 } else { 20.0 }));
    let startup_runs = args.startup_runs.unwrap_or(if quick { 2 } else { 3 });
    let idle = Duration::from_secs(if quick { 1 } else { 3 });
    let work_dir = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);

    let fake = fake::start()?;
    let embedder = match args.embedder {
        EmbedderKind::Fake => Embedder::Fake(fake.base_url.clone()),
        EmbedderKind::Local => match &args.model_dir {
            Some(dir) => Embedder::Local(dir.clone()),
            None => bail!("--embedder local needs --model-dir"),
        },
    };
    let embedder_name = format!("{:?}", args.embedder).to_lowercase();
    // Start-up and the knowledge figures run without a chat model, as a fresh install does; turns need one.
    let launch = Launch { binary: args.binary.clone(), embedder, llm_base_url: None };
    let chat_launch = Launch { llm_base_url: Some(fake.base_url.clone()), ..launch.clone() };
    let has = |s: Scenario| args.scenarios.contains(&s);

    let mut report = Report::default();
    if has(Scenario::Startup) {
        eprintln!("startup: {startup_runs} starts on an empty data dir");
        if let Err(e) = startup::run(&launch, &work_dir, startup_runs, idle, &mut report).await {
            report.error("startup", &e);
        }
    }
    if has(Scenario::Ingest) || has(Scenario::Search) || has(Scenario::Restart) {
        eprintln!("ingest, search {scales:?}, restart");
        let plan = ingest::Plan {
            docs: args.docs,
            doc_kib: args.doc_kib,
            bulk_doc_kib: args.bulk_doc_kib,
            parallel_uploads: args.parallel_uploads,
            scales: if has(Scenario::Search) { scales.clone() } else { Vec::new() },
            searches,
            restart: has(Scenario::Restart),
            idle,
            embedder: embedder_name.clone(),
        };
        let stats = matches!(args.embedder, EmbedderKind::Fake).then(|| Arc::clone(&fake.stats));
        if let Err(e) = ingest::run(&launch, stats, &work_dir, &plan, &mut report).await {
            report.error("ingest/search/restart", &e);
        }
    }
    if has(Scenario::Turns) || has(Scenario::WsIdle) {
        eprintln!("turns {turns} sequential, clients {clients:?}; idle WebSockets {idle_connections}");
        let chat_calls = fake.stats.chat_calls();
        match turns::Chat::start(&chat_launch, &work_dir).await {
            Err(e) => report.error("turns (setup)", &e),
            Ok(chat) => {
                if has(Scenario::Turns) {
                    let plan = turns::Plan {
                        sequential: turns,
                        clients: clients.clone(),
                        turns_per_client: args.turns_per_client,
                        embedder: embedder_name.clone(),
                    };
                    if let Err(e) = turns::run(&chat, &plan, &mut report).await {
                        report.error("turns", &e);
                    }
                }
                if has(Scenario::WsIdle) {
                    let plan = ws_idle::Plan { connections: idle_connections, hold, parallel: 200 };
                    if let Err(e) = ws_idle::run(&chat, &plan, &mut report).await {
                        report.error("ws-idle", &e);
                    }
                }
                report.section("fake_llm", json!({ "chat_requests": fake.stats.chat_calls() - chat_calls }));
                let turns::Chat { server, .. } = chat;
                if let Err(e) = server.stop().await {
                    report.error("turns (stop)", &e);
                }
            }
        }
    }

    let settings = json!({
        "argv": std::env::args().collect::<Vec<_>>(),
        "embedder": embedder_name,
        "scenarios": args.scenarios.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>(),
        "quick": quick,
        "scales": scales,
        "clients": clients,
        "idle": idle_connections,
        "hold_secs": hold.as_secs_f64(),
        "turns": turns,
        "searches": searches,
        "docs": args.docs,
        "doc_kib": args.doc_kib,
        "bulk_doc_kib": args.bulk_doc_kib,
        "startup_runs": startup_runs,
    });
    report.write_json(&args.out, report::machine(&args.binary), settings)?;
    Ok(report)
}
