//! An in-process fake of an OpenAI-compatible `/chat/completions` endpoint, on 127.0.0.1 port 0.
//!
//! Plain tokio sockets and hand-written HTTP/1.1, so a test controls every byte and moment: stream deltas, then
//! usage, then `[DONE]`; hang before the first token; answer an error status; cut the stream; and see the client
//! hang up (the proof that cancelling reaches upstream). Each connection runs the next [`Script`] in the queue;
//! when one is left it serves every later connection.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub enum Script {
    /// `deltas` as chunks (`pause` before each), then a finish chunk, the usage chunk and `[DONE]`.
    Stream { deltas: Vec<String>, pause: Duration, usage: Option<(u32, u32)> },
    /// 200 and SSE headers, then nothing: a model that never produces its first token.
    HangBeforeFirstToken,
    /// `deltas`, then silence with the connection open: the answer is long, or stuck.
    StreamThenHang { deltas: Vec<String> },
    /// `deltas`, then the connection closes with no finish and no `[DONE]`.
    StreamThenCut { deltas: Vec<String> },
    /// An error answer with this status and body.
    Status(u16, String),
}

impl Script {
    pub fn stream(deltas: &[&str]) -> Self {
        Self::Stream {
            deltas: deltas.iter().map(|d| (*d).to_owned()).collect(),
            pause: Duration::ZERO,
            usage: Some((11, 7)),
        }
    }
}

#[derive(Default)]
struct Shared {
    scripts: VecDeque<Script>,
    requests: Vec<Value>,
    disconnects: usize,
}

pub struct FakeLlm {
    /// The API root to configure, `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    shared: Arc<Mutex<Shared>>,
    disconnected: Arc<Notify>,
}

impl FakeLlm {
    pub async fn start(scripts: Vec<Script>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, scripts)
    }

    /// Reserves a port, lets go of it, and only listens on it after `delay`: until then connections are refused.
    pub async fn start_late(delay: Duration, scripts: Vec<Script>) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared { scripts: scripts.into(), ..Shared::default() }));
        let disconnected = Arc::new(Notify::new());
        let (s, d) = (Arc::clone(&shared), Arc::clone(&disconnected));
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            accept_loop(listener, s, d).await;
        });
        Self { base_url: format!("http://127.0.0.1:{port}/v1"), shared, disconnected }
    }

    /// An address where nothing listens: every connection is refused.
    pub async fn refusing() -> String {
        let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        format!("http://127.0.0.1:{port}/v1")
    }

    fn serve(listener: TcpListener, scripts: Vec<Script>) -> Self {
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let shared = Arc::new(Mutex::new(Shared { scripts: scripts.into(), ..Shared::default() }));
        let disconnected = Arc::new(Notify::new());
        tokio::spawn(accept_loop(listener, Arc::clone(&shared), Arc::clone(&disconnected)));
        Self { base_url, shared, disconnected }
    }

    /// The JSON bodies received, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.lock().unwrap().requests.clone()
    }

    /// Connections the client closed while the fake still had the response open (hanging or streaming).
    pub fn disconnects(&self) -> usize {
        self.shared.lock().unwrap().disconnects
    }

    /// Waits until the client has hung up on an open response at least `n` times; false if `within` passes.
    pub async fn wait_disconnects(&self, n: usize, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.disconnected.notified();
            if self.disconnects() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.disconnects() >= n;
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Mutex<Shared>>, disconnected: Arc<Notify>) {
    while let Ok((socket, _)) = listener.accept().await {
        let (shared, disconnected) = (Arc::clone(&shared), Arc::clone(&disconnected));
        tokio::spawn(async move {
            if serve_one(socket, &shared).await == Outcome::ClientLeft {
                shared.lock().unwrap().disconnects += 1;
                disconnected.notify_waiters();
            }
        });
    }
}

#[derive(PartialEq)]
enum Outcome {
    Finished,
    ClientLeft,
}

async fn serve_one(mut socket: TcpStream, shared: &Mutex<Shared>) -> Outcome {
    let Some(body) = read_request(&mut socket).await else { return Outcome::Finished };
    let script = {
        let mut shared = shared.lock().unwrap();
        shared.requests.push(body);
        if shared.scripts.len() > 1 { shared.scripts.pop_front() } else { shared.scripts.front().cloned() }
    };
    let model = "fake-model";
    match script.unwrap_or(Script::Status(500, "no script".into())) {
        Script::Status(status, body) => {
            let head = format!(
                "HTTP/1.1 {status} Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(format!("{head}{body}").as_bytes()).await;
            Outcome::Finished
        }
        Script::Stream { deltas, pause, usage } => {
            if sse_head(&mut socket).await.is_err() {
                return Outcome::ClientLeft;
            }
            for delta in deltas {
                tokio::time::sleep(pause).await;
                if event(&mut socket, &delta_chunk(model, &delta)).await.is_err() {
                    return Outcome::ClientLeft;
                }
            }
            let finish = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
            let _ = event(&mut socket, &finish.to_string()).await;
            if let Some((prompt, completion)) = usage {
                let usage = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
                    "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                    "total_tokens": prompt + completion}});
                let _ = event(&mut socket, &usage.to_string()).await;
            }
            let _ = event(&mut socket, "[DONE]").await;
            let _ = socket.write_all(b"0\r\n\r\n").await;
            Outcome::Finished
        }
        Script::HangBeforeFirstToken => {
            if sse_head(&mut socket).await.is_err() {
                return Outcome::ClientLeft;
            }
            wait_for_hangup(&mut socket).await
        }
        Script::StreamThenHang { deltas } => {
            if sse_head(&mut socket).await.is_err() {
                return Outcome::ClientLeft;
            }
            for delta in deltas {
                if event(&mut socket, &delta_chunk(model, &delta)).await.is_err() {
                    return Outcome::ClientLeft;
                }
            }
            wait_for_hangup(&mut socket).await
        }
        Script::StreamThenCut { deltas } => {
            let _ = sse_head(&mut socket).await;
            for delta in deltas {
                let _ = event(&mut socket, &delta_chunk(model, &delta)).await;
            }
            let _ = socket.write_all(b"0\r\n\r\n").await;
            Outcome::Finished
        }
    }
}

/// A delta chunk as real servers send it, `id` and all; the client must not need them.
fn delta_chunk(model: &str, text: &str) -> String {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}], "usage": null})
    .to_string()
}

/// Blocks until the client closes the connection (read returns 0 or fails). The request was read whole, so
/// anything else the client sends would be a protocol error: there is none.
async fn wait_for_hangup(socket: &mut TcpStream) -> Outcome {
    let mut buf = [0u8; 256];
    loop {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return Outcome::ClientLeft,
            Ok(_) => {}
        }
    }
}

async fn sse_head(socket: &mut TcpStream) -> std::io::Result<()> {
    socket
        .write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
              transfer-encoding: chunked\r\n\r\n",
        )
        .await
}

/// One SSE event as one HTTP chunk.
async fn event(socket: &mut TcpStream, data: &str) -> std::io::Result<()> {
    let payload = format!("data: {data}\n\n");
    socket.write_all(format!("{:x}\r\n{payload}\r\n", payload.len()).as_bytes()).await?;
    socket.flush().await
}

/// Reads one request (headers, then `content-length` bytes) and returns its JSON body.
async fn read_request(socket: &mut TcpStream) -> Option<Value> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..header_end]).to_lowercase();
    assert!(head.starts_with("post /v1/chat/completions "), "unexpected request: {head}");
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|v| v.trim().parse().unwrap()).unwrap_or(0);
    while data.len() < header_end + length {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let mut body: Value = serde_json::from_slice(&data[header_end..header_end + length]).unwrap();
    let auth = head.lines().find_map(|l| l.strip_prefix("authorization:")).map(|v| v.trim().to_owned());
    body["__authorization"] = json!(auth);
    Some(body)
}
