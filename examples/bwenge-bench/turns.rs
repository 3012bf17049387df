//! RAG turns: sequential, then many clients at once over HTTP JSON and over the WebSocket (the turn half of
//! benches/chat_load.py).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::Barrier;

use crate::client::{self, ANSWER_LINE, Api, QUESTION};
use crate::corpus;
use crate::report::{Report, latency, mib, p50_p99, round};
use crate::server::{Launch, Server};

/// A server with one 50 KiB document and a persona on it: what every turn searches and cites.
pub struct Chat {
    pub server: Server,
    pub api: Api,
    pub persona: String,
    pub collection: String,
    // Dropped after the server (field order): the data dir outlives the process using it.
    _dir: TempDir,
}

impl Chat {
    pub async fn start(launch: &Launch, work_dir: &Path) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("bwenge-bench-chat-").tempdir_in(work_dir)?;
        let server = Server::start(launch, dir.path(), Duration::from_secs(120)).await?;
        let mut api = Api::new(server.port)?;
        api.register().await?;
        let collection = api.create_collection("bench").await?;
        let mut text = corpus::document(0, 50 * 1024);
        text.extend_from_slice(ANSWER_LINE.as_bytes());
        let id = api.upload(&collection, "rivers.txt", text).await?;
        api.wait_ready(&collection, &[id].into_iter().collect(), Duration::from_secs(600)).await?;
        let persona = api.create_persona(&collection).await?;
        Ok(Self { server, api, persona, collection, _dir: dir })
    }

    /// Sessions made up front, a few at a time: making them is not part of any timing.
    pub async fn sessions(&self, count: usize) -> anyhow::Result<Vec<String>> {
        futures_util::stream::iter(0..count)
            .map(|_| self.api.create_session(&self.persona))
            .buffer_unordered(8)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }
}

pub struct Plan {
    pub sequential: usize,
    pub clients: Vec<usize>,
    /// Turns per client after its warm-up one; none: 10 for few clients, down to 2 for 500.
    pub turns_per_client: Option<usize>,
    pub embedder: String,
}

pub async fn run(chat: &Chat, plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    let sequential = sequential(chat, plan.sequential).await?;
    let context = format!(
        "{} HTTP JSON turns one after another, a fresh session every 10, instant fake LLM, {} embedder, 50 KiB material",
        plan.sequential, plan.embedder
    );
    report.row("RAG turn p50 / p99, sequential", p50_p99(&sequential["turn"]), &context);
    report.row("server CPU per turn, sequential", format!("{} ms", sequential["server_cpu_ms_per_turn"]), &context);
    report.row("POST /search alone, same question", p50_p99(&sequential["search"]), &context);
    report.section("turns", json!({ "sequential": sequential }));

    let mut concurrent = Vec::new();
    for &clients in &plan.clients {
        let per_client = plan.turns_per_client.unwrap_or_else(|| (1000 / clients.max(1)).clamp(2, 10));
        for transport in [Transport::Http, Transport::WebSocket] {
            let result = many(chat, clients, per_client, transport).await?;
            let context = format!(
                "{clients} clients × {per_client} turns, own session each, after a warm-up turn; {}",
                transport.label()
            );
            let errors = result["client_errors"].as_u64().unwrap_or(0);
            let failed = if errors > 0 { format!(", {errors} clients failed") } else { String::new() };
            report.row(
                &format!("RAG turns, {clients} concurrent clients, {}", transport.name()),
                format!("{} turns/s, p50 / p99 {}{failed}", result["turns_per_s"], p50_p99(&result["latency"])),
                &context,
            );
            concurrent.push(result);
            report.section("turns", json!({ "sequential": sequential, "concurrent": concurrent }));
        }
    }
    // What the server keeps after the load: a leak or a fragmenting allocator shows here, not in the idle figure.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let rss = mib(chat.server.rss_kib()?);
    report.row("server RSS after the chat load", format!("{rss} MiB"), "3 s after the last concurrent turn");
    report.section("turns", json!({ "sequential": sequential, "concurrent": concurrent, "rss_after_mib": rss }));
    Ok(())
}

async fn sequential(chat: &Chat, turns: usize) -> anyhow::Result<Value> {
    // A fresh session every 10 turns: a student's session holds tens of messages, not hundreds.
    let sessions = chat.sessions(turns / 10 + 1).await?;
    let api = &chat.api;
    let warm = sessions.last().context("no session")?;
    for _ in 0..5 {
        api.turn(warm).await?;
    }
    let turn_cpu_before = chat.server.cpu_ms()?;
    let mut latencies = Vec::with_capacity(turns);
    for i in 0..turns {
        latencies.push(api.turn(&sessions[i / 10]).await?);
    }
    let turn_cpu = chat.server.cpu_ms()? - turn_cpu_before;
    // The same question through search alone separates the retrieval from the rest of the turn.
    let cpu_before = chat.server.cpu_ms()?;
    let mut searches = Vec::with_capacity(turns);
    for _ in 0..turns {
        let started = Instant::now();
        api.search(&chat.collection, QUESTION).await?;
        searches.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let search_cpu = chat.server.cpu_ms()? - cpu_before;
    let n = turns.max(1) as f64;
    Ok(json!({
        "turns": turns,
        "turn": latency(&latencies),
        "server_cpu_ms_per_turn": round(turn_cpu / n, 3),
        "search": latency(&searches),
        "server_cpu_ms_per_search": round(search_cpu / n, 3),
    }))
}

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Http,
    WebSocket,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Self::Http => "HTTP JSON",
            Self::WebSocket => "WebSocket",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Http => "POST /sessions/{id}/messages on a shared keep-alive pool",
            Self::WebSocket => "one WebSocket each, message.send → answer.done",
        }
    }
}

/// `clients` tasks, each on its own session, all released together after their warm-up turn; turns/s over the
/// wall time from that release to the last answer.
async fn many(chat: &Chat, clients: usize, per_client: usize, transport: Transport) -> anyhow::Result<Value> {
    let sessions = chat.sessions(clients).await?;
    // The main task waits on the barrier too, so the clock starts when every client is warm.
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut tasks = Vec::with_capacity(clients);
    for session in sessions {
        let (api, barrier) = (chat.api.clone(), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            match transport {
                Transport::Http => http_client(api, session, per_client, barrier).await,
                Transport::WebSocket => ws_client(api, session, per_client, barrier).await,
            }
        }));
    }
    barrier.wait().await;
    let (started, cpu_before) = (Instant::now(), chat.server.cpu_ms()?);
    let mut latencies = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for task in tasks {
        match task.await.context("a client task panicked")? {
            Ok(times) => latencies.extend(times),
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = chat.server.cpu_ms()? - cpu_before;
    if latencies.is_empty() {
        bail!("every {} client failed; the first: {}", transport.name(), first_error.unwrap_or_default());
    }
    Ok(json!({
        "transport": transport.name(),
        "clients": clients,
        "turns_per_client": per_client,
        "turns": latencies.len(),
        "wall_secs": round(wall, 3),
        "turns_per_s": round(latencies.len() as f64 / wall, 1),
        "latency": latency(&latencies),
        "server_cpu_ms_per_turn": round(cpu / latencies.len() as f64, 3),
        "client_errors": errors,
        "first_error": first_error,
    }))
}

/// Every client reaches the barrier, even one whose warm-up failed: otherwise the others would wait forever.
async fn http_client(api: Api, session: String, turns: usize, barrier: Arc<Barrier>) -> anyhow::Result<Vec<f64>> {
    let warm = api.turn(&session).await;
    barrier.wait().await;
    warm?;
    let mut times = Vec::with_capacity(turns);
    for _ in 0..turns {
        times.push(api.turn(&session).await?);
    }
    Ok(times)
}

async fn ws_client(api: Api, session: String, turns: usize, barrier: Arc<Barrier>) -> anyhow::Result<Vec<f64>> {
    let ready = async {
        let mut ws = client::connect(api.port, &api.token).await?;
        client::open_session(&mut ws, json!({ "session_id": session })).await?;
        client::ws_turn(&mut ws, &session).await?;
        anyhow::Ok(ws)
    }
    .await;
    barrier.wait().await;
    let mut ws = ready?;
    let mut times = Vec::with_capacity(turns);
    for _ in 0..turns {
        times.push(client::ws_turn(&mut ws, &session).await?);
    }
    let _ = ws.close(None).await;
    Ok(times)
}
