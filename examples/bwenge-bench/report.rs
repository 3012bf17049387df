//! The results: a markdown table (figure | value | context) for people and the README, the full JSON for tools.

use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde_json::{Map, Value, json};

#[derive(Default)]
pub struct Report {
    rows: Vec<[String; 3]>,
    sections: Map<String, Value>,
    errors: Vec<String>,
}

impl Report {
    pub fn row(&mut self, figure: &str, value: String, context: &str) {
        // Printed as they come, so a long run shows progress and a crash keeps what was measured.
        eprintln!("  {figure}: {value}  ({context})");
        self.rows.push([figure.to_owned(), value, context.to_owned()]);
    }

    pub fn section(&mut self, key: &str, value: Value) {
        self.sections.insert(key.to_owned(), value);
    }

    pub fn error(&mut self, scenario: &str, error: &anyhow::Error) {
        let text = format!("{scenario}: {error:#}");
        eprintln!("  FAILED {text}");
        self.errors.push(text);
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn markdown(&self, command: &str) -> String {
        let mut out = format!("Measured by `{command}`\n\n| figure | value | context |\n| --- | --- | --- |\n");
        for [figure, value, context] in &self.rows {
            out.push_str(&format!("| {figure} | {value} | {context} |\n"));
        }
        for error in &self.errors {
            out.push_str(&format!("\nFAILED: {error}\n"));
        }
        out
    }

    pub fn write_json(&self, path: &Path, machine: Value, args: Value) -> anyhow::Result<()> {
        let table: Vec<Value> =
            self.rows.iter().map(|[f, v, c]| json!({"figure": f, "value": v, "context": c})).collect();
        let mut document = Map::new();
        document.insert("machine".into(), machine);
        document.insert("args".into(), args);
        document.extend(self.sections.clone());
        document.insert("table".into(), Value::Array(table));
        document.insert("errors".into(), json!(self.errors));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let text = serde_json::to_string_pretty(&Value::Object(document))? + "\n";
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}

/// What the figures depend on besides the code: cores, memory, CPU, kernel, when, which binary and commit.
pub fn machine(binary: &Path) -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    });
    let memory_mib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    });
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "memory_mib": memory_mib.map(|k| k / 1024),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned()),
        "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "binary": std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf()),
        "git_rev": git(&["rev-parse", "HEAD"]),
        "git_dirty": git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()),
    })
}

/// Latencies in ms: count, p50, p99, mean and max. Percentiles as the Python benches take them: the value at
/// index ⌊q·n⌋ of the sorted list.
pub fn latency(values: &[f64]) -> Value {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mean = if sorted.is_empty() { 0.0 } else { sorted.iter().sum::<f64>() / sorted.len() as f64 };
    json!({
        "count": sorted.len(),
        "p50_ms": round(percentile(&sorted, 0.5), 2),
        "p99_ms": round(percentile(&sorted, 0.99), 2),
        "mean_ms": round(mean, 2),
        "max_ms": round(sorted.last().copied().unwrap_or(0.0), 2),
    })
}

pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((q * sorted.len() as f64) as usize).min(sorted.len() - 1)]
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

pub fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// "p50 / p99" of a `latency` value, for a table cell.
pub fn p50_p99(latency: &Value) -> String {
    format!("{} / {} ms", latency["p50_ms"], latency["p99_ms"])
}

pub fn mib(kib: u64) -> f64 {
    round(kib as f64 / 1024.0, 1)
}
