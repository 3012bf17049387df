//! Idle WebSockets held: thousands of connections, each with a session open, answering the server's pings (the
//! socket half of benches/chat_load.py).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Ws};
use crate::report::{Report, latency, mib, round};
use crate::turns::Chat;

pub struct Plan {
    pub connections: usize,
    pub hold: Duration,
    /// Connections being opened at once: waves, as real clients arrive, and within the server's accept backlog.
    pub parallel: usize,
}

/// What the holding tasks saw.
#[derive(Default)]
struct Watch {
    closed: AtomicUsize,
    pings: AtomicU64,
    /// Why connections ended: a close frame's code, an error, or the end of the stream.
    reasons: Mutex<BTreeMap<String, usize>>,
}

impl Watch {
    fn ended(&self, reason: String) {
        self.closed.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut reasons) = self.reasons.lock() {
            *reasons.entry(reason).or_default() += 1;
        }
    }
}

pub async fn run(chat: &Chat, plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    let probe = chat.api.create_session(&chat.persona).await?;
    // One turn first so the probe below measures a warm path, not the first use of this session.
    chat.api.turn(&probe).await?;
    let rss_before = chat.server.rss_kib()?;
    let watch = Arc::new(Watch::default());
    let (port, token, persona) = (chat.api.port, chat.api.token.clone(), chat.persona.clone());

    let started = Instant::now();
    let mut opened = futures_util::stream::iter(0..plan.connections)
        .map(|_| {
            let (token, persona) = (token.clone(), persona.clone());
            async move {
                let mut ws = client::connect(port, &token).await?;
                client::open_session(&mut ws, json!({ "persona_id": persona })).await?;
                anyhow::Ok(ws)
            }
        })
        .buffer_unordered(plan.parallel.max(1));
    let (mut holders, mut failures, mut first_error) = (Vec::new(), 0usize, None);
    while let Some(result) = opened.next().await {
        match result {
            // A task per connection: the runtime's workers share them, and each answers its pings as they come.
            Ok(ws) => holders.push(tokio::spawn(hold(ws, Arc::clone(&watch)))),
            Err(e) => {
                failures += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    let open_secs = started.elapsed().as_secs_f64();
    let rss_opened = chat.server.rss_kib()?;
    let cpu_before = chat.server.cpu_ms()?;
    tokio::time::sleep(plan.hold).await;
    let idle_cpu_ms = chat.server.cpu_ms()? - cpu_before;
    let rss_held = chat.server.rss_kib()?;
    let still_open = holders.len() - watch.closed.load(Ordering::SeqCst);

    let mut probes = Vec::new();
    for _ in 0..10 {
        probes.push(chat.api.turn(&probe).await?);
    }
    let probe_latency = latency(&probes);

    for holder in &holders {
        holder.abort();
    }
    // Let the server notice the closes and free what they held.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_closed = chat.server.rss_kib()?;

    let per_connection = (rss_held.saturating_sub(rss_before)) as f64 / holders.len().max(1) as f64;
    let reasons = watch.reasons.lock().map(|r| r.clone()).unwrap_or_default();
    let context = format!(
        "{} asked, opened {} at a time with session.open {{persona_id}} (one user), held {} s",
        plan.connections,
        plan.parallel,
        plan.hold.as_secs_f64()
    );
    report.row(
        "idle WebSockets held",
        format!(
            "{still_open} of {} still open after {} s ({failures} failed to open)",
            plan.connections,
            plan.hold.as_secs_f64()
        ),
        &context,
    );
    report.row(
        "server memory per idle WebSocket",
        format!("{} KiB (RSS {} → {} MiB)", round(per_connection, 1), mib(rss_before), mib(rss_held)),
        &context,
    );
    report.row(
        "opening them",
        format!("{} s, {} connections/s", round(open_secs, 2), round(holders.len() as f64 / open_secs.max(1e-3), 0)),
        &context,
    );
    let context = format!("10 sequential HTTP JSON turns while {still_open} idle WebSockets are open");
    report.row("RAG turn p50 / p99 while they are held", crate::report::p50_p99(&probe_latency), &context);
    report.section(
        "ws_idle",
        json!({
            "asked": plan.connections,
            "opened": holders.len(),
            "failed_to_open": failures,
            "first_error": first_error,
            "still_open_after_hold": still_open,
            "closed_while_held": reasons,
            "pings_answered": watch.pings.load(Ordering::SeqCst),
            "hold_secs": plan.hold.as_secs_f64(),
            "open_secs": round(open_secs, 3),
            "parallel_opens": plan.parallel,
            "rss_before_mib": mib(rss_before),
            "rss_opened_mib": mib(rss_opened),
            "rss_held_mib": mib(rss_held),
            "rss_after_close_mib": mib(rss_closed),
            "kib_per_connection": round(per_connection, 1),
            "server_cpu_ms_while_held": round(idle_cpu_ms, 1),
            "turn_while_held": probe_latency,
        }),
    );
    Ok(())
}

/// Reads until the connection ends; tungstenite queues the pong for each ping and sends it on the next read.
async fn hold(mut ws: Ws, watch: Arc<Watch>) {
    loop {
        match ws.next().await {
            Some(Ok(Message::Ping(_))) => {
                watch.pings.fetch_add(1, Ordering::Relaxed);
            }
            Some(Ok(Message::Close(frame))) => {
                let code =
                    frame.map_or_else(|| "close without code".to_owned(), |f| format!("close {}", u16::from(f.code)));
                return watch.ended(code);
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return watch.ended(format!("error: {e}")),
            None => return watch.ended("end of stream".to_owned()),
        }
    }
}
