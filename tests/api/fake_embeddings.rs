//! A fake OpenAI-compatible `/embeddings` endpoint whose answers can be held back: a test opens a gap between a job
//! asking for its vectors and getting them, and acts in that gap.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub const DIMENSIONS: usize = 384;

pub struct FakeEmbeddings {
    /// The API root to configure, `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    held: Arc<AtomicBool>,
    /// Requests are held from this one on (counted from 0), as if `hold` were called then.
    hold_from: Arc<AtomicUsize>,
    seen: Arc<AtomicUsize>,
    released: Arc<Notify>,
    asked: Arc<Notify>,
}

impl FakeEmbeddings {
    /// Answers at once until [`Self::hold`].
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let fake = Self {
            base_url,
            held: Arc::default(),
            hold_from: Arc::new(AtomicUsize::new(usize::MAX)),
            seen: Arc::default(),
            released: Arc::default(),
            asked: Arc::default(),
        };
        let gate = Gate {
            held: fake.held.clone(),
            hold_from: fake.hold_from.clone(),
            seen: fake.seen.clone(),
            released: fake.released.clone(),
            asked: fake.asked.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { return };
                let gate = gate.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, gate).await;
                });
            }
        });
        fake
    }

    /// Requests from now on wait for [`Self::release`].
    pub fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    /// Answers the first `n` requests, then holds the rest (until [`Self::release`]).
    pub fn hold_after(&self, n: usize) {
        self.hold_from.store(self.seen.load(Ordering::SeqCst) + n, Ordering::SeqCst);
    }

    pub fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
        self.hold_from.store(usize::MAX, Ordering::SeqCst);
        self.released.notify_waiters();
    }

    /// Resolves once a request is being held.
    pub async fn asked(&self) {
        self.asked.notified().await;
    }

    pub fn configure(&self, settings: &mut bwenge::config::Settings) {
        settings.embeddings.provider = "openai".into();
        settings.embeddings.base_url = self.base_url.clone();
        settings.embeddings.model = "fake-embedder".into();
        settings.embeddings.dimensions = DIMENSIONS;
        settings.embeddings.base64 = false;
        // One request per batch of the pipeline, so a test can hold a batch.
        settings.embeddings.batch_size = 100_000;
    }
}

#[derive(Clone)]
struct Gate {
    held: Arc<AtomicBool>,
    hold_from: Arc<AtomicUsize>,
    seen: Arc<AtomicUsize>,
    released: Arc<Notify>,
    asked: Arc<Notify>,
}

async fn serve(mut socket: tokio::net::TcpStream, gate: Gate) -> std::io::Result<()> {
    loop {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 8192];
        let body_start = loop {
            let n = socket.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..n]);
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
        };
        let head = String::from_utf8_lossy(&buffer[..body_start]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < body_start + length {
            let n = socket.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        let request: Value = serde_json::from_slice(&buffer[body_start..body_start + length]).unwrap_or_default();
        let inputs = request["input"].as_array().map_or(1, Vec::len);
        let number = gate.seen.fetch_add(1, Ordering::SeqCst);
        if gate.held.load(Ordering::SeqCst) || number >= gate.hold_from.load(Ordering::SeqCst) {
            let wait = gate.released.notified();
            gate.asked.notify_waiters();
            gate.asked.notify_one();
            wait.await;
        }
        let data: Vec<Value> = (0..inputs)
            .map(|i| {
                let mut vector = vec![0.0f32; DIMENSIONS];
                vector[i % DIMENSIONS] = 1.0;
                json!({ "object": "embedding", "index": i, "embedding": vector })
            })
            .collect();
        let body = json!({ "object": "list", "data": data, "model": "fake-embedder",
            "usage": { "prompt_tokens": inputs, "total_tokens": inputs } })
        .to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await?;
    }
}
