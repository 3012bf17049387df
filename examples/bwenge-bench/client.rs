//! The API calls the scenarios make, over HTTP JSON (reqwest) and the chat WebSocket (tokio-tungstenite).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The question of every turn; the turn scenarios' document holds a sentence that answers it, so the local model
/// passes the relevance gate too.
pub const QUESTION: &str = "How do rivers carve valleys over time?";
pub const ANSWER_LINE: &str = "\n\nRivers carve valleys over time by erosion.\n";

/// One pool of kept-alive connections shared by every task, and the caller's token.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub port: u16,
    pub token: String,
}

impl Api {
    pub fn new(port: u16) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            // Without it, Nagle's algorithm and delayed ACKs add ~40 ms to a small request (benches/README.md).
            .tcp_nodelay(true)
            .no_proxy()
            // Longer than the 100k-chunk ingest polls; a turn or search never takes this long.
            .timeout(Duration::from_secs(300))
            .build()?;
        Ok(Self { http, port, token: String::new() })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/api/v1{path}", self.port)
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
        let request = if self.token.is_empty() { request } else { request.bearer_auth(&self.token) };
        let response = request.send().await.with_context(|| format!("{what}: no answer"))?;
        let status = response.status();
        let body = response.bytes().await.with_context(|| format!("{what}: reading the answer"))?;
        if !status.is_success() {
            bail!("{what}: HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(500)]));
        }
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body).with_context(|| format!("{what}: not JSON"))
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path)).json(&body), &format!("POST {path}")).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path)), &format!("GET {path}")).await
    }

    /// A new organisation and its admin; the token is kept for every later call.
    pub async fn register(&mut self) -> anyhow::Result<()> {
        let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
        let tokens = self
            .post(
                "/auth/register",
                json!({"org_name": "Bench", "email": email, "password": "Bench-pass-123456!", "name": "Bench"}),
            )
            .await?;
        self.token = string(&tokens, "access_token")?;
        Ok(())
    }

    pub async fn create_collection(&self, name: &str) -> anyhow::Result<String> {
        string(&self.post("/collections", json!({ "name": name })).await?, "id")
    }

    pub async fn upload(&self, collection: &str, name: &str, content: Vec<u8>) -> anyhow::Result<String> {
        let part = reqwest::multipart::Part::bytes(content).file_name(name.to_owned()).mime_str("text/plain")?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let path = format!("/collections/{collection}/documents");
        let request = self.http.post(self.url(&path)).multipart(form);
        string(&self.send(request, &format!("POST {path}")).await?, "id")
    }

    /// Every document view of a collection, all pages.
    pub async fn documents(&self, collection: &str) -> anyhow::Result<Vec<Value>> {
        let mut views = Vec::new();
        for page in 1.. {
            let got = self.get(&format!("/collections/{collection}/documents?page={page}&per_page=100")).await?;
            let items = got["items"].as_array().context("a document page without items")?;
            views.extend(items.iter().cloned());
            let total = got["total"].as_u64().unwrap_or(0);
            if page * 100 >= total || items.is_empty() {
                break;
            }
        }
        Ok(views)
    }

    /// Polls until every document in `ids` is `ready`; returns their views. A `failed` one is an error.
    pub async fn wait_ready(
        &self,
        collection: &str,
        ids: &HashSet<String>,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Value>> {
        let started = Instant::now();
        // Short polls for a small batch (the ingest figure), longer ones while a big one runs for minutes.
        let pause = Duration::from_millis(if ids.len() <= 50 { 50 } else { 500 });
        loop {
            let views: Vec<Value> = self
                .documents(collection)
                .await?
                .into_iter()
                .filter(|v| v["id"].as_str().is_some_and(|id| ids.contains(id)))
                .collect();
            if let Some(failed) = views.iter().find(|v| v["status"] == "failed") {
                bail!("a document failed: {failed}");
            }
            let ready = views.iter().filter(|v| v["status"] == "ready").count();
            if ready == ids.len() {
                return Ok(views);
            }
            if started.elapsed() > timeout {
                bail!("only {ready} of {} documents ready after {timeout:?}", ids.len());
            }
            tokio::time::sleep(pause).await;
        }
    }

    pub async fn search(&self, collection: &str, query: &str) -> anyhow::Result<Value> {
        self.post("/search", json!({"query": query, "collection_ids": [collection], "top_k": 5})).await
    }

    pub async fn create_persona(&self, collection: &str) -> anyhow::Result<String> {
        string(&self.post("/personas", json!({"name": "Tutor", "collection_ids": [collection]})).await?, "id")
    }

    pub async fn create_session(&self, persona: &str) -> anyhow::Result<String> {
        string(&self.post(&format!("/personas/{persona}/sessions"), json!({})).await?, "id")
    }

    /// One RAG turn over HTTP JSON; its client-side latency in ms. An answer without citations means the turn
    /// skipped the search or the model: an error, not a fast turn.
    pub async fn turn(&self, session: &str) -> anyhow::Result<f64> {
        let started = Instant::now();
        let answer = self.post(&format!("/sessions/{session}/messages"), json!({ "content": QUESTION })).await?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        if answer["citations"].as_array().is_none_or(Vec::is_empty) {
            bail!("a turn came back without citations: {answer}");
        }
        Ok(elapsed)
    }
}

pub fn string(value: &Value, field: &str) -> anyhow::Result<String> {
    value[field].as_str().map(str::to_owned).with_context(|| format!("no `{field}` in {value}"))
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A chat WebSocket, authenticated by the `token` query parameter.
pub async fn connect(port: u16, token: &str) -> anyhow::Result<Ws> {
    // tungstenite reserves 128 KiB read and write buffers per socket by default; small ones keep 10,000 idle
    // client sockets cheap, so the bench's own memory does not crowd the server's on a small machine.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let url = format!("ws://127.0.0.1:{port}/api/v1/chat/ws?token={token}");
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(config), true).await.context("WebSocket upgrade")?;
    Ok(ws)
}

/// The next JSON text frame; pings are answered by tungstenite itself on the next read.
pub async fn next_frame(ws: &mut Ws) -> anyhow::Result<Value> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(text.as_str()).context("a non-JSON frame"),
            Some(Ok(Message::Close(close))) => bail!("closed by the server: {close:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e).context("reading the WebSocket"),
            None => bail!("the WebSocket ended"),
        }
    }
}

/// `session.open` (a new session with `persona_id`, or an existing `session_id`) until `session.ready`; the
/// session's id.
pub async fn open_session(ws: &mut Ws, open: Value) -> anyhow::Result<String> {
    let mut frame = open;
    frame["type"] = json!("session.open");
    ws.send(Message::text(frame.to_string())).await.context("sending session.open")?;
    loop {
        let frame = next_frame(ws).await?;
        match frame["type"].as_str() {
            Some("session.ready") => {
                return frame["session"]["id"].as_str().map(str::to_owned).context("session.ready without an id");
            }
            Some("error") => bail!("session.open refused: {frame}"),
            _ => {}
        }
    }
}

/// One turn over the WebSocket: `message.send`, then frames until `answer.done`; the latency in ms.
pub async fn ws_turn(ws: &mut Ws, session: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let frame = json!({"type": "message.send", "session_id": session, "content": QUESTION, "client_id": "bench"});
    ws.send(Message::text(frame.to_string())).await.context("sending message.send")?;
    let mut citations = 0;
    loop {
        let frame = next_frame(ws).await?;
        match frame["type"].as_str() {
            Some("answer.citation") => citations += 1,
            Some("answer.done") => break,
            Some("error") => bail!("the turn failed: {frame}"),
            _ => {}
        }
    }
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    if citations == 0 {
        bail!("a WebSocket turn ended without citations");
    }
    Ok(elapsed)
}
