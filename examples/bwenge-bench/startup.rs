//! Start-up time and idle memory on an empty data dir (the port of benches/startup.py).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::report::{Report, median, mib, round};
use crate::server::{Launch, Server};

/// One start on `data_dir`: ready time, then `idle` of nothing, then memory and CPU spent so far.
pub async fn measure(
    launch: &Launch,
    data_dir: &Path,
    idle: Duration,
    timeout: Duration,
) -> anyhow::Result<(Server, Value)> {
    let server = Server::start(launch, data_dir, timeout).await?;
    tokio::time::sleep(idle).await;
    let figures = json!({
        "ready_ms": round(server.ready_ms, 1),
        "idle_rss_mib": mib(server.rss_kib()?),
        "peak_rss_mib": mib(server.hwm_kib()?),
        "cpu_ms_to_idle": round(server.cpu_ms()?, 1),
    });
    Ok((server, figures))
}

pub async fn run(
    launch: &Launch,
    work_dir: &Path,
    runs: usize,
    idle: Duration,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut results = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::Builder::new().prefix("bwenge-bench-startup-").tempdir_in(work_dir)?;
        let (server, mut figures) = measure(launch, dir.path(), idle, Duration::from_secs(60)).await?;
        figures["stop_ms"] = json!(round(server.stop().await?, 1));
        results.push(figures);
    }
    let field = |key: &str| -> Vec<f64> { results.iter().filter_map(|r| r[key].as_f64()).collect() };
    let (ready, rss, peak) = (field("ready_ms"), field("idle_rss_mib"), field("peak_rss_mib"));
    let list = |values: &[f64]| values.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(", ");
    let context = format!("empty data dir, median of {runs} (runs: {})", list(&ready));
    report.row("start-up: spawn → /readyz 200", format!("{:.1} ms", median(&ready)), &context);
    let context = format!("empty data dir, after {} s idle, median of {runs}", idle.as_secs_f64());
    report.row("idle RSS, empty", format!("{:.1} MiB (peak {:.1})", median(&rss), median(&peak)), &context);
    report.section(
        "startup",
        json!({
            "runs": results,
            "idle_secs": idle.as_secs_f64(),
            "median_ready_ms": round(median(&ready), 1),
            "median_idle_rss_mib": round(median(&rss), 1),
            "median_peak_rss_mib": round(median(&peak), 1),
        }),
    );
    Ok(())
}
