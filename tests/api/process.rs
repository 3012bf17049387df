//! Real `bwenge serve` processes for tests that need more than an in-process app: several replicas, a kill.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// One `bwenge serve` process; killed when dropped.
pub struct Replica {
    child: Child,
    pub base: String,
    pub client: reqwest::Client,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    /// Kills the process at once (SIGKILL): no shutdown, no flush.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts `bwenge serve` on a free port with `env`, and waits for its "listening" line.
    pub fn start(env: &[(String, String)], data_dir: &std::path::Path) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bwenge"));
        command.args(["serve", "--port", "0", "--data-dir"]).arg(data_dir);
        command.env("BWENGE__LOG__FORMAT", "json").env("BWENGE__LOG__LEVEL", "info");
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("bwenge serve starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let port = loop {
            let line = lines.next().expect("the server logs until it listens").expect("a log line");
            let Ok(event) = serde_json::from_str::<Value>(&line) else { continue };
            if event["fields"]["message"] == "bwenge listening" {
                break event["fields"]["port"].as_u64().expect("the port is logged");
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, base: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new() }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let response = self.call(reqwest::Method::POST, path, token, Some(body)).await;
        assert!(response.status().is_success(), "POST {path}: {}", response.status());
        response.json().await.expect("JSON")
    }

    pub async fn get(&self, path: &str, token: &str) -> Value {
        let response = self.call(reqwest::Method::GET, path, Some(token), None).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("JSON")
    }

    /// Ingest jobs this process ran to success (the orphan sweep, also an `ingest.` job, is not counted).
    pub async fn job_runs(&self) -> u64 {
        let text = self.client.get(format!("{}/metrics", self.base)).send().await.unwrap().text().await.unwrap();
        text.lines()
            .filter(|l| {
                l.starts_with("bwenge_job_runs_total{")
                    && l.contains("kind=\"ingest.document\"")
                    && l.contains("outcome=\"succeeded\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}
