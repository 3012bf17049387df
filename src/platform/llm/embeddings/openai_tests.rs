//! Tests of [`OpenAiEmbedder`] against an in-process fake OpenAI-compatible server on 127.0.0.1.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};
use serde_json::{Value, json};

use super::{EmbedError, Embedder, OpenAiEmbedder, OpenAiEmbedderConfig};

/// A canned failure for one call; `None` in the script means "answer normally".
#[derive(Clone)]
struct Failure {
    status: u16,
    retry_after: Option<&'static str>,
    body: Value,
}

#[derive(Default)]
struct Recorded {
    batch_sizes: Vec<usize>,
    auth_headers: Vec<Option<String>>,
    script: VecDeque<Option<Failure>>,
}

struct FakeServer {
    base_url: String,
    dims: usize,
    state: Arc<Mutex<Recorded>>,
    handle: ServerHandle,
}

impl FakeServer {
    /// Starts a server whose vectors have `dims` dimensions and which answers its first calls per `script`.
    fn start(dims: usize, script: Vec<Option<Failure>>) -> Self {
        let state = Arc::new(Mutex::new(Recorded { script: script.into(), ..Recorded::default() }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = Arc::clone(&state);
        // Own thread and actix System, so the server is independent of the test's tokio runtime flavour.
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new((Arc::clone(&shared), dims)))
                        .route("/v1/embeddings", web::post().to(embeddings))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                tx.send(server.handle()).unwrap();
                server.await.unwrap();
            });
        });
        let handle = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Self { base_url, dims, state, handle }
    }

    fn config(&self) -> OpenAiEmbedderConfig {
        let mut config = OpenAiEmbedderConfig::new(&self.base_url, "fake-embed", self.dims);
        // Keep retries fast; the policy is the same.
        config.initial_backoff = Duration::from_millis(1);
        config.max_backoff = Duration::from_millis(20);
        config
    }

    fn batch_sizes(&self) -> Vec<usize> {
        self.state.lock().unwrap().batch_sizes.clone()
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Input `text-N` gets the unnormalised vector `[N + 1, 2, 0, ...]`, so the client must normalise it and the test
/// can recover N (order check) from the ratio of the first two components. Items are returned in reverse order
/// with their `index`, as the API allows, so the client must sort by index.
async fn embeddings(
    req: HttpRequest,
    body: web::Json<Value>,
    data: web::Data<(Arc<Mutex<Recorded>>, usize)>,
) -> HttpResponse {
    let (state, dims) = (&data.0, data.1);
    let inputs: Vec<String> =
        body["input"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let failure = {
        let mut s = state.lock().unwrap();
        s.batch_sizes.push(inputs.len());
        s.auth_headers.push(req.headers().get("authorization").map(|h| h.to_str().unwrap().to_string()));
        s.script.pop_front().flatten()
    };
    if let Some(f) = failure {
        let mut resp = HttpResponse::build(actix_web::http::StatusCode::from_u16(f.status).unwrap());
        if let Some(ra) = f.retry_after {
            resp.insert_header(("Retry-After", ra));
        }
        return resp.json(f.body);
    }
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(index, text)| {
            let n: f32 = text.strip_prefix("text-").and_then(|n| n.parse().ok()).unwrap_or(0.0);
            let mut v = vec![0.0f32; dims];
            v[0] = n + 1.0;
            v[1] = 2.0;
            // As the real API: base64 of little-endian f32 when asked, JSON numbers otherwise.
            let embedding = if body["encoding_format"] == "base64" {
                use base64::Engine as _;
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let usage = json!({"prompt_tokens": 1, "total_tokens": 1});
    HttpResponse::Ok().json(json!({"object": "list", "data": data, "model": "fake-embed", "usage": usage}))
}

fn failure(status: u16, retry_after: Option<&'static str>, message: &str) -> Option<Failure> {
    Some(Failure { status, retry_after, body: json!({"error": {"message": message, "type": "test"}}) })
}

fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("text-{i}")).collect()
}

#[tokio::test]
async fn retries_batches_keeps_order_and_normalises() {
    // Call 1: 429 with Retry-After: 0; call 2: fine; call 3: 503 without Retry-After (own backoff); then fine.
    let server =
        FakeServer::start(8, vec![failure(429, Some("0"), "slow down"), None, failure(503, None, "overloaded")]);
    let mut config = server.config();
    config.batch_size = 4;
    config.api_key = "sk-test".into();
    let embedder = OpenAiEmbedder::new(config).unwrap();
    assert_eq!(embedder.name(), "openai:fake-embed");
    assert_eq!(embedder.dimensions(), 8);

    let vectors = embedder.embed(&texts(10)).await.unwrap();

    assert_eq!(vectors.len(), 10);
    for (i, v) in vectors.iter().enumerate() {
        assert_eq!(v.len(), 8);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "vector {i} has norm {norm}");
        let n = v[0] / v[1] * 2.0 - 1.0;
        assert!((n - i as f32).abs() < 1e-3, "vector {i} belongs to input {n}");
    }
    // Batches of 4, 4, 2; the first two each sent twice because of the 429 and the 503.
    assert_eq!(server.batch_sizes(), vec![4, 4, 4, 4, 2]);
    let auth = server.state.lock().unwrap().auth_headers.clone();
    assert!(auth.iter().all(|h| h.as_deref() == Some("Bearer sk-test")), "{auth:?}");
    server.stop().await;
}

#[tokio::test]
async fn client_error_is_not_retried_and_carries_the_message() {
    let server = FakeServer::start(8, vec![failure(400, None, "input is too long for this model")]);
    let embedder = OpenAiEmbedder::new(server.config()).unwrap();
    let err = embedder.embed(&texts(3)).await.unwrap_err();
    match &err {
        EmbedError::Upstream { status: 400, message } => assert_eq!(message, "input is too long for this model"),
        other => panic!("unexpected error {other:?}"),
    }
    assert!(!err.retryable());
    assert_eq!(server.batch_sizes().len(), 1, "a 400 must not be retried");
    // Empty API key: no Authorization header at all (local servers).
    assert_eq!(server.state.lock().unwrap().auth_headers, vec![None]);
    server.stop().await;
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let server = FakeServer::start(8, vec![failure(500, None, "boom"); 6]);
    let embedder = OpenAiEmbedder::new(server.config()).unwrap();
    let err = embedder.embed(&texts(2)).await.unwrap_err();
    assert!(matches!(&err, EmbedError::Upstream { status: 500, message } if message == "boom"), "{err:?}");
    assert!(err.retryable());
    assert_eq!(server.batch_sizes().len(), 5);
    server.stop().await;
}

#[tokio::test]
async fn dimension_mismatch_is_a_bad_response() {
    let server = FakeServer::start(8, vec![]);
    let mut config = server.config();
    config.dimensions = 16;
    let embedder = OpenAiEmbedder::new(config).unwrap();
    let err = embedder.embed(&texts(1)).await.unwrap_err();
    assert!(matches!(&err, EmbedError::BadResponse(m) if m.contains("8 dimensions")), "{err:?}");
    assert_eq!(server.batch_sizes().len(), 1);
    // No request at all for no input.
    assert!(embedder.embed(&[]).await.unwrap().is_empty());
    assert_eq!(server.batch_sizes().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn connect_errors_are_retried_then_reported() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = OpenAiEmbedderConfig::new(format!("http://127.0.0.1:{port}/v1/"), "m", 8);
    config.initial_backoff = Duration::from_millis(1);
    config.max_attempts = 2;
    let embedder = OpenAiEmbedder::new(config).unwrap();
    let err = embedder.embed(&texts(1)).await.unwrap_err();
    assert!(matches!(err, EmbedError::Transport(_)), "{err:?}");
    assert!(err.retryable());
}

#[test]
fn config_validation_and_token_estimate() {
    assert!(OpenAiEmbedder::new(OpenAiEmbedderConfig::new("localhost:8080", "m", 8)).is_err());
    assert!(OpenAiEmbedder::new(OpenAiEmbedderConfig::new("http://bad host/v1", "m", 8)).is_err());
    assert!(OpenAiEmbedder::new(OpenAiEmbedderConfig::new("ftp://host/v1", "m", 8)).is_err());
    assert!(OpenAiEmbedder::new(OpenAiEmbedderConfig::new("http://x/v1", "", 8)).is_err());
    assert!(OpenAiEmbedder::new(OpenAiEmbedderConfig::new("http://x/v1", "m", 0)).is_err());
    let mut config = OpenAiEmbedderConfig::new("http://x/v1", "m", 8);
    config.api_key = "sk-secret".into();
    assert!(!format!("{config:?}").contains("sk-secret"));
    let embedder = OpenAiEmbedder::new(config).unwrap();
    assert_eq!(embedder.max_tokens(), 512);
    assert_eq!(embedder.count_tokens(""), 0);
    assert_eq!(embedder.count_tokens("abcd"), 1);
    assert_eq!(embedder.count_tokens("abcde"), 2);
}

#[tokio::test]
async fn base64_and_json_number_vectors_decode_to_the_same_embeddings() {
    let server = FakeServer::start(8, vec![]);
    let base64 = OpenAiEmbedder::new(server.config()).unwrap().embed(&texts(5)).await.unwrap();
    let mut config = server.config();
    config.base64 = false;
    let floats = OpenAiEmbedder::new(config).unwrap().embed(&texts(5)).await.unwrap();
    assert_eq!(base64, floats);
    assert!((base64[3][0] / base64[3][1] - 2.0).abs() < 1e-6, "text-3 is [4, 2, ...]: {:?}", base64[3]);
    server.stop().await;
}
