//! The chat WebSocket: turns, resume, cancel, upstream failures, typing relay, the connection limits, and two
//! replicas sharing events through Redis.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::chat::{QUESTION, class, history, new_session, spawn_with_llm};
use crate::fake_llm::{FakeLlm, Script};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(app: &TestApp, token: &str) -> Ws {
    let url = format!("{}/api/v1/chat/ws?token={token}", app.address.replace("http://", "ws://"));
    tokio_tungstenite::connect_async(url).await.expect("WebSocket upgrade").0
}

pub async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

/// The next JSON frame (control frames skipped).
pub async fn next(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame in time");
        match message.expect("connection open").expect("a frame") {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(close) => panic!("closed: {close:?}"),
            _ => {}
        }
    }
}

/// Frames up to and including the first of type `until`.
pub async fn until(ws: &mut Ws, until: &str) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let frame = next(ws).await;
        let done = frame["type"] == until;
        frames.push(frame);
        if done {
            return frames;
        }
    }
}

pub fn text_of(frames: &[Value]) -> String {
    frames.iter().filter(|f| f["type"] == "answer.delta").map(|f| f["text"].as_str().unwrap()).collect()
}

pub async fn open(ws: &mut Ws, session: &str, last_seen: Option<&Value>) -> Value {
    send(ws, json!({ "type": "session.open", "session_id": session, "last_seen_message_id": last_seen })).await;
    let ready = next(ws).await;
    assert_eq!(ready["type"], "session.ready", "{ready}");
    ready
}

#[tokio::test]
async fn a_websocket_turn_then_resume_after_reconnect() {
    let fake = FakeLlm::start(vec![Script::stream(&["Light makes ", "[cue:celebrate]sugar [1]."])]).await;
    let app = spawn_with_llm(&fake, |_| {}).await;
    let class = class(&app).await;
    let mut ws = connect(&app, &class.student.access_token).await;

    // A new session from the persona: the greeting is its history.
    send(&mut ws, json!({ "type": "session.open", "persona_id": class.persona })).await;
    let ready = next(&mut ws).await;
    assert_eq!(ready["type"], "session.ready");
    assert_eq!(ready["history"][0]["content"], "Hello! Ask me about science.");
    assert_eq!(ready["history"][0]["cues"][0]["cue"], "greet");
    let session = ready["session"]["id"].as_str().unwrap().to_owned();

    send(&mut ws, json!({ "type": "message.send", "session_id": session, "content": QUESTION, "client_id": "c-1" }))
        .await;
    let accepted = next(&mut ws).await;
    assert_eq!(accepted["type"], "message.accepted");
    assert_eq!(accepted["client_id"], "c-1");
    let question_id = accepted["message_id"].clone();
    let frames = until(&mut ws, "answer.done").await;
    assert_eq!(text_of(&frames), "Light makes sugar [1].");
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "avatar.cue", "think comes first: {kinds:?}");
    let cues: Vec<(&str, u64)> = frames
        .iter()
        .filter(|f| f["type"] == "avatar.cue")
        .map(|f| (f["cue"].as_str().unwrap(), f["at_char"].as_u64().unwrap()))
        .collect();
    assert_eq!(cues, [("think", 0), ("explain", 0), ("celebrate", 12), ("idle", 22)]);
    let citation = frames.iter().find(|f| f["type"] == "answer.citation").expect("a citation");
    assert_eq!(citation["document_id"], class.plants_doc.as_str());
    let done = frames.last().unwrap();
    assert_eq!(done["status"], "complete");
    assert!(done["latency_ms"].is_u64());
    let answer_id = done["message_id"].clone();
    ws.close(None).await.unwrap();

    // Reconnect with the sub-protocol instead of the query, having seen only the question: the answer is resent.
    let url = format!("{}/api/v1/chat/ws", app.address.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    let offer = format!("bwenge, bearer.{}", class.student.access_token);
    request.headers_mut().insert("sec-websocket-protocol", offer.parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "bwenge");
    let ready = open(&mut ws, &session, Some(&question_id)).await;
    let missed = ready["history"].as_array().unwrap();
    assert_eq!(missed.len(), 1, "{ready}");
    assert_eq!(missed[0]["id"], answer_id);
    assert_eq!(missed[0]["content"], "Light makes sugar [1].");
    assert_eq!(missed[0]["citations"][0]["document_id"], class.plants_doc.as_str());
}

#[tokio::test]
async fn cancel_mid_answer_reaches_the_model_and_keeps_the_partial_answer() {
    let fake = FakeLlm::start(vec![
        Script::StreamThenHang { deltas: vec!["Once upon ".into()] },
        Script::stream(&["Second answer."]),
    ])
    .await;
    let app = spawn_with_llm(&fake, |s| s.llm.first_token_timeout_secs = 30).await;
    let class = class(&app).await;
    let mut ws = connect(&app, &class.student.access_token).await;
    open(&mut ws, &class.session, None).await;
    send(&mut ws, json!({ "type": "message.send", "session_id": class.session, "content": QUESTION })).await;
    until(&mut ws, "answer.delta").await;
    send(&mut ws, json!({ "type": "message.cancel", "session_id": class.session })).await;
    let frames = until(&mut ws, "answer.done").await;
    assert_eq!(frames.last().unwrap()["status"], "cancelled");
    assert!(fake.wait_disconnects(1, Duration::from_secs(5)).await, "the upstream request was not closed");
    let stored = history(&app, &class.student, &class.session).await;
    let answer = stored["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((answer["status"].as_str(), answer["content"].as_str()), (Some("cancelled"), Some("Once upon ")));

    send(&mut ws, json!({ "type": "message.send", "session_id": class.session, "content": QUESTION })).await;
    let frames = until(&mut ws, "answer.done").await;
    assert_eq!(text_of(&frames), "Second answer.");
    assert_eq!(frames.last().unwrap()["status"], "complete");
}

#[tokio::test]
async fn a_hanging_model_gives_an_error_frame_and_the_session_stays_usable() {
    let fake = FakeLlm::start(vec![Script::HangBeforeFirstToken, Script::stream(&["Recovered."])]).await;
    let app = spawn_with_llm(&fake, |s| s.llm.first_token_timeout_secs = 1).await;
    let class = class(&app).await;
    let mut ws = connect(&app, &class.student.access_token).await;
    open(&mut ws, &class.session, None).await;
    send(&mut ws, json!({ "type": "message.send", "session_id": class.session, "content": QUESTION })).await;
    let frames = until(&mut ws, "error").await;
    let error = frames.last().unwrap();
    assert_eq!(error["code"], "llm_timeout");
    assert!(error["message"].as_str().unwrap().contains("took too long"));
    assert!(error["message_id"].is_string());
    send(&mut ws, json!({ "type": "message.send", "session_id": class.session, "content": QUESTION })).await;
    let frames = until(&mut ws, "answer.done").await;
    assert_eq!(text_of(&frames), "Recovered.");
}

#[tokio::test]
async fn typing_reaches_the_other_connections_of_the_session_only() {
    let app = spawn_app().await;
    let class = class(&app).await;
    let mut tab = connect(&app, &class.student.access_token).await;
    let mut teacher = connect(&app, &class.teacher.access_token).await;
    open(&mut tab, &class.session, None).await;
    open(&mut teacher, &class.session, None).await;
    send(&mut tab, json!({ "type": "typing", "session_id": class.session })).await;
    let typing = next(&mut teacher).await;
    assert_eq!(typing["type"], "typing");
    assert_eq!(typing["user_id"], class.student.id.as_str());
    send(&mut tab, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut tab).await["type"], "pong", "the typist does not get its own typing back");

    // The teacher watches the student's turn (asked over HTTP here), but may not write in the session.
    let asked = app
        .post_as(
            &format!("/api/v1/sessions/{}/messages", class.session),
            &class.student.access_token,
            &json!({ "content": QUESTION }),
        )
        .await;
    assert_eq!(asked.status(), 200);
    let frames = until(&mut teacher, "answer.done").await;
    assert!(text_of(&frames).contains("Photosynthesis"), "the watcher sees the answer stream");
    send(&mut teacher, json!({ "type": "message.send", "session_id": class.session, "content": "hi" })).await;
    assert_eq!(next(&mut teacher).await["code"], "forbidden");
    // Another student's session cannot be opened.
    let other = app.invite(&class.teacher, "student").await;
    let mut intruder = connect(&app, &other.access_token).await;
    send(&mut intruder, json!({ "type": "session.open", "session_id": class.session })).await;
    assert_eq!(next(&mut intruder).await["code"], "not_found");
}

/// Upgrades a bare TCP connection and never answers anything; returns the close code the server sends.
async fn silent_client_close_code(app: &TestApp, token: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    let request = format!(
        "GET /api/v1/chat/ws?token={token} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    // The handshake's answer, then frames (the server's are unmasked): pings are ignored, a close ends it.
    loop {
        let n = tokio::time::timeout(Duration::from_secs(20), socket.read(&mut chunk)).await.expect("in time").unwrap();
        assert!(n > 0, "closed without a close frame");
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            assert!(buffer.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&buffer));
            buffer.drain(..end + 4);
            break;
        }
    }
    loop {
        while buffer.len() >= 2 {
            let (opcode, length) = (buffer[0] & 0x0F, usize::from(buffer[1] & 0x7F));
            assert!(length < 126, "small control frames only");
            if buffer.len() < 2 + length {
                break;
            }
            if opcode == 0x8 {
                return u16::from_be_bytes([buffer[2], buffer[3]]);
            }
            buffer.drain(..2 + length);
        }
        let n = tokio::time::timeout(Duration::from_secs(20), socket.read(&mut chunk)).await.expect("in time").unwrap();
        assert!(n > 0, "closed without a close frame");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

pub async fn close_code(ws: &mut Ws) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn limits_auth_rate_frame_size_and_idle_timeout() {
    let app = spawn_app_with(|s| {
        s.chat.ws_rate_burst = 3.0;
        s.chat.ws_rate_per_sec = 0.001;
        s.chat.ws_max_frame_bytes = 1024;
        s.chat.ws_heartbeat_secs = 1;
        s.chat.ws_idle_timeout_secs = 2;
    })
    .await;
    let user = app.register("Limits school").await;
    let response = app.get("/api/v1/chat/ws").await;
    crate::helpers::assert_error(response, 401, "missing_token").await;

    let mut ws = connect(&app, &user.access_token).await;
    for _ in 0..3 {
        send(&mut ws, json!({ "type": "ping" })).await;
        assert_eq!(next(&mut ws).await["type"], "pong");
    }
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut ws).await["code"], "rate_limited");
    ws.send(Message::text("x".repeat(2048))).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Size));

    // A client that answers nothing, not even pings, is closed once idle. (A WebSocket library answers pings by
    // itself whenever it reads, so this client is a bare socket that only watches for the close.)
    assert_eq!(silent_client_close_code(&app, &user.access_token).await, 1001);
}

#[tokio::test]
async fn a_client_that_does_not_read_is_closed_with_1008() {
    // A long answer in big frames: far more than the socket buffers hold while the client does not read.
    let deltas: Vec<String> = (0..3_000).map(|i| format!("{i:05} {}", "y".repeat(16_000))).collect();
    let fake = FakeLlm::start(vec![Script::Stream { deltas, pause: Duration::ZERO, usage: None }]).await;
    let app = spawn_with_llm(&fake, |s| {
        s.chat.ws_outbox_frames = 16;
        s.chat.ws_idle_timeout_secs = 120;
    })
    .await;
    let class = class(&app).await;
    let mut ws = connect(&app, &class.student.access_token).await;
    open(&mut ws, &class.session, None).await;
    send(&mut ws, json!({ "type": "message.send", "session_id": class.session, "content": QUESTION })).await;
    // Not reading, until the server has given up on this client: its answer, stopped for want of a reader, is
    // stored as cancelled.
    let mut stopped = false;
    for _ in 0..600 {
        let messages = crate::chat::history(&app, &class.student, &class.session).await;
        let last = messages["items"].as_array().unwrap().last().cloned().unwrap_or_default();
        if last["role"] == "assistant" && last["status"] == "cancelled" {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stopped, "the answer stops once the client's outbox overflows");
    let mut deltas_seen = 0;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await.expect("closed in time") {
            Some(Ok(Message::Text(text))) => {
                if text.contains("answer.delta") {
                    deltas_seen += 1;
                }
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| f.code),
            Some(Ok(_)) => {}
            Some(Err(err)) => panic!("{err}"),
            None => break None,
        }
    };
    assert_eq!(code, Some(CloseCode::Policy));
    assert!(deltas_seen < 3_000, "frames were dropped, not buffered: {deltas_seen}");
    println!("saw {deltas_seen} deltas before the close");
}

/// The Redis URL when Postgres and Redis are both configured: what a two-replica check needs.
pub fn replica_backends() -> Option<String> {
    let (Ok(_), Ok(redis)) = (std::env::var("TEST_DATABASE_URL"), std::env::var("TEST_REDIS_URL")) else {
        eprintln!("TEST_DATABASE_URL and TEST_REDIS_URL not both set: two-replica checks need Postgres and Redis");
        return None;
    };
    Some(redis)
}

/// Two app instances on one database and one Redis, as two replicas behind a load balancer (`edit` applies to
/// both; B runs no job workers, so ingest stays on A, whose embedded vector engine then holds the chunks).
pub async fn two_replicas(redis: &str, edit: impl Fn(&mut bwenge::config::Settings) + Clone) -> (TestApp, TestApp) {
    let secret = format!("replica-test-secret-{}", uuid::Uuid::new_v4().simple());
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let shared = {
        let (secret, prefix, redis) = (secret.clone(), prefix.clone(), redis.to_owned());
        move |s: &mut bwenge::config::Settings| {
            s.auth.jwt_secret = secret.clone().into();
            s.redis.url = redis.clone().into();
            s.redis.prefix = prefix.clone();
        }
    };
    let a = spawn_app_with({
        let (shared, edit) = (shared.clone(), edit.clone());
        move |s| {
            shared(s);
            edit(s);
        }
    })
    .await;
    let database = a.settings.database.url.clone();
    let b = spawn_app_with(move |s| {
        shared(s);
        edit(s);
        s.database.url = database;
        s.jobs.workers = 0;
    })
    .await;
    (a, b)
}

#[tokio::test]
async fn two_replicas_share_session_events_through_redis() {
    let Some(redis) = replica_backends() else { return };
    let (a, b) = two_replicas(&redis, |_| {}).await;
    // Vectors are per replica here (embedded engine): a persona without collections answers without search.
    let teacher = a.register("Replica school").await;
    let student = a.invite(&teacher, "student").await;
    let persona: Value =
        a.post_as("/api/v1/personas", &teacher.access_token, &json!({ "name": "Shared" })).await.json().await.unwrap();
    let session = new_session(&a, &student, persona["id"].as_str().unwrap()).await;

    let mut on_b = connect(&b, &student.access_token).await;
    open(&mut on_b, &session, None).await;
    let mut on_a = connect(&a, &student.access_token).await;
    open(&mut on_a, &session, None).await;
    send(&mut on_a, json!({ "type": "typing", "session_id": session })).await;
    let typing = next(&mut on_b).await;
    assert_eq!(typing["type"], "typing", "typing on A reaches B");

    let asked = a
        .post_as(&format!("/api/v1/sessions/{session}/messages"), &student.access_token, &json!({ "content": "hi" }))
        .await;
    assert_eq!(asked.status(), 200);
    let answer: Value = asked.json().await.unwrap();
    let frames = until(&mut on_b, "answer.done").await;
    assert_eq!(text_of(&frames), answer["message"]["content"].as_str().unwrap(), "B saw A's answer stream");
    assert_eq!(frames.last().unwrap()["message_id"], answer["message"]["id"]);
}

#[tokio::test]
async fn the_uploader_sees_their_documents_progress_on_the_websocket_and_nobody_else_does() {
    let app = spawn_app().await;
    let teacher = app.register("Upload school").await;
    let student = app.invite(&teacher, "student").await;
    let mut uploader = connect(&app, &teacher.access_token).await;
    let mut bystander = connect(&app, &student.access_token).await;
    // A pong proves each connection is registered before anything is uploaded.
    for ws in [&mut uploader, &mut bystander] {
        send(ws, json!({ "type": "ping" })).await;
        assert_eq!(next(ws).await["type"], "pong");
    }

    let collection = crate::ingest::create_collection(&app, &teacher, "C").await;
    let response =
        crate::ingest::upload(&app, &teacher, &collection, "notes.txt", b"Rivers carve valleys.".to_vec()).await;
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let mut seen = Vec::new();
    loop {
        let frame = next(&mut uploader).await;
        assert_eq!(frame["type"], "document.progress", "{frame}");
        assert_eq!(frame["id"], id.as_str());
        assert!(frame.get("uploaded_by").is_none(), "routing stays internal: {frame}");
        seen.push(frame["status"].as_str().unwrap().to_owned());
        if frame["status"] == "ready" {
            assert!(frame["chunk_count"].as_i64().unwrap() >= 1, "{frame}");
            break;
        }
    }
    assert!(seen.contains(&"processing".to_owned()), "{seen:?}");

    // The other user's connection got nothing in between: its next frame is the answer to a ping.
    send(&mut bystander, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut bystander).await["type"], "pong");
}
