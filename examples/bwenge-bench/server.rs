//! The server under test: `bwenge serve` as a child process on a data dir, and what /proc says about it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Where the server gets its vectors.
#[derive(Clone)]
pub enum Embedder {
    /// The in-process fake endpoint (fake.rs) at this API root.
    Fake(String),
    /// The built-in all-MiniLM-L6-v2 from this directory (never fetched: a bench must not download).
    Local(PathBuf),
}

/// Everything a start needs besides the data dir.
#[derive(Clone)]
pub struct Launch {
    pub binary: PathBuf,
    pub embedder: Embedder,
    /// The fake chat model's API root; none means the extractive tutor.
    pub llm_base_url: Option<String>,
}

impl Launch {
    /// The same settings as the Python benches: limits raised so the bench measures the server, not its guards;
    /// tokens that outlive a long run; the unlimited plan so 100k chunks and thousands of turns fit the quotas.
    fn environment(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("BWENGE__LOG__FORMAT", "json".to_owned()),
            ("BWENGE__LOG__LEVEL", std::env::var("BWENGE__LOG__LEVEL").unwrap_or_else(|_| "warn".into())),
            ("BWENGE__RATELIMIT__API_PER_USER_PER_MINUTE", "100000000".into()),
            ("BWENGE__RATELIMIT__API_PER_ORG_PER_MINUTE", "100000000".into()),
            ("BWENGE__RATELIMIT__AUTH_PER_IP_PER_MINUTE", "100000".into()),
            ("BWENGE__RATELIMIT__REGISTER_PER_IP_PER_HOUR", "100000".into()),
            ("BWENGE__AUTH__ACCESS_TOKEN_TTL_SECS", "86400".into()),
            ("BWENGE__BILLING__DEFAULT_PLAN", "enterprise".into()),
            ("BWENGE__CHAT__WS_RATE_PER_SEC", "1000".into()),
            ("BWENGE__CHAT__WS_RATE_BURST", "1000".into()),
        ];
        match &self.embedder {
            Embedder::Fake(base_url) => {
                env.extend([
                    ("BWENGE__EMBEDDINGS__PROVIDER", "openai".to_owned()),
                    ("BWENGE__EMBEDDINGS__MODEL", "fake".into()),
                    ("BWENGE__EMBEDDINGS__BASE_URL", base_url.clone()),
                    ("BWENGE__EMBEDDINGS__DIMENSIONS", crate::fake::DIMENSIONS.to_string()),
                    // The fake's vectors are random, so the cosine of a question with its best chunk is ~0.15:
                    // without this the relevance gate would answer "not covered" and skip the model.
                    ("BWENGE__CHAT__MIN_RELEVANCE", "-1".into()),
                    ("BWENGE__CHAT__BORDERLINE_RELEVANCE", "-1".into()),
                ]);
            }
            Embedder::Local(dir) => env.extend([
                ("BWENGE__EMBEDDINGS__PROVIDER", "local".to_owned()),
                ("BWENGE__EMBEDDINGS__MODEL_DIR", dir.display().to_string()),
                ("BWENGE__EMBEDDINGS__FETCH", "false".into()),
            ]),
        }
        if let Some(url) = &self.llm_base_url {
            env.extend([("BWENGE__LLM__BASE_URL", url.clone()), ("BWENGE__LLM__MODEL", "fake".into())]);
        }
        env
    }
}

pub struct Server {
    child: Child,
    pub pid: u32,
    pub port: u16,
    /// Process start to the first `200` from `/readyz`.
    pub ready_ms: f64,
    log: PathBuf,
}

impl Server {
    /// Spawns `bwenge serve` on a free port and waits for `/readyz` to answer 200 (at most `timeout`).
    pub async fn start(launch: &Launch, data_dir: &Path, timeout: Duration) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = data_dir.join("server.log");
        // Appended to, so a restart on the same data dir keeps the first run's lines.
        let out = OpenOptions::new().create(true).append(true).open(&log).context("opening the server log")?;
        let err = out.try_clone()?;
        let started = Instant::now();
        let child = Command::new(&launch.binary)
            .args(["serve", "--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            .envs(launch.environment())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("spawning {}", launch.binary.display()))?;
        let pid = child.id();
        let mut server = Self { child, pid, port, ready_ms: 0.0, log };
        let probe = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build()?;
        let url = format!("http://127.0.0.1:{port}/readyz");
        loop {
            if let Ok(response) = probe.get(&url).send().await
                && response.status().is_success()
            {
                break;
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("the server exited ({status}) before it was ready; its log ends:\n{}", server.log_tail());
            }
            if started.elapsed() > timeout {
                bail!("the server was not ready within {timeout:?}; its log ends:\n{}", server.log_tail());
            }
            // Fine-grained: the empty start takes well under 100 ms.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.ready_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(server)
    }

    /// SIGTERM (the graceful path: drain, flush the vector engine), then the time until the process is gone. A
    /// server still there after 30 s is killed and that is an error.
    pub async fn stop(mut self) -> anyhow::Result<f64> {
        let started = Instant::now();
        // No signal crate in the tree; kill(1) is everywhere this tool can run (it reads /proc anyway).
        let status = Command::new("kill").args(["-TERM", &self.pid.to_string()]).status().context("running kill")?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.pid);
        }
        while started.elapsed() < Duration::from_secs(30) {
            if self.child.try_wait()?.is_some() {
                return Ok(started.elapsed().as_secs_f64() * 1000.0);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("the server did not stop within 30 s of SIGTERM")
    }

    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        status_field(self.pid, "VmRSS")
    }

    /// The peak resident memory so far.
    pub fn hwm_kib(&self) -> anyhow::Result<u64> {
        status_field(self.pid, "VmHWM")
    }

    /// User + system CPU time of the server so far, in ms: its own work, not the fake's or the client's.
    pub fn cpu_ms(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // The command name may hold spaces and parentheses: the fields start after the last ')'.
        let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("").split_whitespace().collect();
        let ticks = |i: usize| -> anyhow::Result<f64> {
            Ok(fields.get(i).context("short /proc/<pid>/stat")?.parse::<u64>()? as f64)
        };
        Ok((ticks(11)? + ticks(12)?) * 1000.0 / clock_ticks())
    }

    fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log) {
            let length = file.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = file.seek(SeekFrom::Start(length.saturating_sub(3000)));
            let _ = file.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Server {
    /// A scenario that fails must not leave a server running (and holding the data dir) behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port nothing listens on now. Another process could take it before the server binds; on a bench machine
/// that does not happen, and it lets the start be timed without parsing the server's log.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn status_field(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc/<pid>/status")?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(line.split_whitespace().nth(1).context("empty status line")?.parse()?)
}

/// `SC_CLK_TCK`, asked of getconf(1) once since there is no libc binding in the tree; 100 on every Linux seen.
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
