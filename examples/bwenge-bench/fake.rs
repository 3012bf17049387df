//! An instant OpenAI-compatible upstream (embeddings and chat), so the figures measure Bwenge, not a model.
//!
//! Hand-written HTTP/1.1 on plain tokio sockets, like the test suite's fakes (tests/api/fake_*.rs): no framework
//! between the socket and the answer, keep-alive, `TCP_NODELAY`. It runs on a runtime of its own on its own OS
//! thread, so a busy bench client cannot delay its answers, and one thread is plenty: an answer costs
//! microseconds (a precomputed chat stream; 384 floats from a hash per embedding input).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// all-MiniLM-L6-v2's width, what the server is configured for.
pub const DIMENSIONS: usize = 384;

/// Requests and inputs seen, read by the ingest scenario (inputs per chunk).
#[derive(Default)]
pub struct Stats {
    pub embedding_calls: AtomicU64,
    pub embedding_inputs: AtomicU64,
    pub chat_calls: AtomicU64,
}

impl Stats {
    pub fn inputs(&self) -> u64 {
        self.embedding_inputs.load(Ordering::Relaxed)
    }

    pub fn chat_calls(&self) -> u64 {
        self.chat_calls.load(Ordering::Relaxed)
    }
}

pub struct Fake {
    /// The API root to configure, `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    pub stats: Arc<Stats>,
}

/// Binds 127.0.0.1 port 0 and serves on a current-thread runtime in a thread of its own, for the process's life.
pub fn start() -> anyhow::Result<Fake> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding the fake upstream")?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let stats = Arc::new(Stats::default());
    let shared = Arc::clone(&stats);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new()
        .name("fake-openai".into())
        .spawn(move || runtime.block_on(accept_loop(listener, shared)))
        .context("starting the fake upstream's thread")?;
    Ok(Fake { base_url: format!("http://{address}/v1"), stats })
}

async fn accept_loop(listener: std::net::TcpListener, stats: Arc<Stats>) {
    let Ok(listener) = TcpListener::from_std(listener) else { return };
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                // Head and body go out in one write, but the server's small requests should not wait on Nagle.
                let _ = socket.set_nodelay(true);
                tokio::spawn(serve(socket, Arc::clone(&stats)));
            }
            // Out of descriptors (the idle-WebSocket scenario runs close to the limit): wait instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Serves requests on one kept-alive connection until the client closes it.
async fn serve(mut socket: TcpStream, stats: Arc<Stats>) {
    let mut buffer = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
        let response = respond(&target, &buffer[head_end..head_end + length], &stats);
        buffer.drain(..head_end + length);
        if socket.write_all(&response).await.is_err() {
            return;
        }
    }
}

fn respond(target: &str, body: &[u8], stats: &Stats) -> Vec<u8> {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if target.ends_with("/embeddings") {
        stats.embedding_calls.fetch_add(1, Ordering::Relaxed);
        let body = embeddings(&request, stats);
        http(200, "application/json", body.as_bytes())
    } else if target.ends_with("/chat/completions") {
        stats.chat_calls.fetch_add(1, Ordering::Relaxed);
        if request["stream"].as_bool() == Some(true) {
            http(200, "text/event-stream", STREAM.as_bytes())
        } else {
            http(200, "application/json", COMPLETION.as_bytes())
        }
    } else {
        http(404, "application/json", br#"{"error":{"message":"not found"}}"#)
    }
}

fn http(status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let mut out =
        format!("HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n", body.len())
            .into_bytes();
    out.extend_from_slice(body);
    out
}

/// One vector per input, as JSON numbers or, when asked (`encoding_format: "base64"`, the server's default), as
/// base64 of little-endian f32, the way OpenAI's API answers.
fn embeddings(request: &Value, stats: &Stats) -> String {
    let texts: Vec<&str> = match &request["input"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().map(|v| v.as_str().unwrap_or("")).collect(),
        _ => Vec::new(),
    };
    stats.embedding_inputs.fetch_add(texts.len() as u64, Ordering::Relaxed);
    let base64 = request["encoding_format"].as_str() == Some("base64");
    let mut out = String::with_capacity(texts.len() * (if base64 { 2100 } else { 4000 }) + 128);
    out.push_str(r#"{"object":"list","model":"fake","data":["#);
    for (i, text) in texts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let vector = vector(text);
        out.push_str(&format!(r#"{{"object":"embedding","index":{i},"embedding":"#));
        if base64 {
            let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
            out.push('"');
        } else {
            out.push('[');
            let numbers: Vec<String> = vector.iter().map(|x| format!("{x:.6}")).collect();
            out.push_str(&numbers.join(","));
            out.push(']');
        }
        out.push('}');
    }
    let n = texts.len();
    out.push_str(&format!(r#"],"usage":{{"prompt_tokens":{n},"total_tokens":{n}}}}}"#));
    out
}

/// A deterministic unit vector from the text: the same text always lands on the same point, unrelated texts on
/// nearly orthogonal ones. FNV-1a seeds splitmix64; neither needs a crate and both cost nanoseconds.
pub fn vector(text: &str) -> Vec<f32> {
    let mut state =
        text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let mut values: Vec<f32> = (0..DIMENSIONS)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // The top 24 bits as a float in [-1, 1).
            (z >> 40) as f32 / 8_388_608.0 - 1.0
        })
        .collect();
    let norm = values.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
    values.iter_mut().for_each(|x| *x /= norm);
    values
}

/// The streamed answer: cites `[1]` and carries a `[cue:encourage]` tag so the server's citation and cue paths
/// run, then a finish chunk, a usage chunk (`choices: []`, as OpenAI sends with `stream_options.include_usage`)
/// and `[DONE]`. Sent whole with a content-length, like benches/fake_llm.py: the server reads SSE either way.
static STREAM: LazyLock<String> = LazyLock::new(|| {
    let chunk = |choices: Value, usage: Option<Value>| {
        let mut body = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
            "model": "fake", "choices": choices});
        if let Some(usage) = usage {
            body["usage"] = usage;
        }
        format!("data: {body}\n\n")
    };
    let delta = |d: Value| chunk(json!([{"index": 0, "delta": d, "finish_reason": null}]), None);
    let mut out = delta(json!({"role": "assistant", "content": ""}));
    for text in DELTAS {
        out.push_str(&delta(json!({ "content": text })));
    }
    out.push_str(&chunk(json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]), None));
    out.push_str(&chunk(json!([]), Some(usage())));
    out.push_str("data: [DONE]\n\n");
    out
});

static COMPLETION: LazyLock<String> = LazyLock::new(|| {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "fake",
        "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": DELTAS.concat()}}],
        "usage": usage()})
    .to_string()
});

const DELTAS: [&str; 4] = ["Rivers carve ", "valleys by erosion [1]. ", "[cue:encourage]", "Good question!"];

fn usage() -> Value {
    json!({"prompt_tokens": 400, "completion_tokens": 12, "total_tokens": 412})
}
