//! A turn's edges: a JSON client that hangs up, one answer at a time per session across replicas, a WebSocket
//! whose access token expires, and follow-up questions.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::chat::{QUESTION, class, history, spawn_with_llm};
use crate::chat_ws::{close_code, connect, next, open, replica_backends, send, two_replicas, until};
use crate::fake_llm::{FakeLlm, Script};
use crate::helpers::assert_error;

#[tokio::test]
async fn a_json_client_that_hangs_up_cancels_its_answer_upstream() {
    let fake = FakeLlm::start(vec![
        Script::StreamThenHang { deltas: vec!["Once upon ".into()] },
        Script::stream(&["Second answer."]),
    ])
    .await;
    let app = spawn_with_llm(&fake, |s| s.llm.first_token_timeout_secs = 30).await;
    let class = class(&app).await;
    // A second tab watches the session: it sees the answer start, and how it ends.
    let mut watcher = connect(&app, &class.student.access_token).await;
    open(&mut watcher, &class.session, None).await;

    let body = json!({ "content": QUESTION }).to_string();
    let request = format!(
        "POST /api/v1/sessions/{}/messages HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        class.session,
        class.student.access_token,
        body.len()
    );
    let mut client = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    client.write_all(request.as_bytes()).await.unwrap();
    until(&mut watcher, "answer.delta").await;
    drop(client);

    let frames = until(&mut watcher, "answer.done").await;
    assert_eq!(frames.last().unwrap()["status"], "cancelled", "{frames:?}");
    assert!(fake.wait_disconnects(1, Duration::from_secs(5)).await, "the upstream request was not closed");
    let stored = history(&app, &class.student, &class.session).await;
    let answer = stored["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((answer["status"].as_str(), answer["content"].as_str()), (Some("cancelled"), Some("Once upon ")));

    let again = app
        .post_as(
            &format!("/api/v1/sessions/{}/messages", class.session),
            &class.student.access_token,
            &json!({ "content": QUESTION }),
        )
        .await;
    assert_eq!(again.status(), 200, "the session is free again");
    assert_eq!(again.json::<Value>().await.unwrap()["message"]["content"], "Second answer.");
}

#[tokio::test]
async fn across_replicas_a_session_answers_one_question_at_a_time() {
    let Some(redis) = replica_backends() else { return };
    let fake = FakeLlm::start(vec![
        Script::StreamThenHang { deltas: vec!["Thinking... ".into()] },
        Script::stream(&["Done."]),
    ])
    .await;
    let url = fake.base_url.clone();
    let (a, b) = two_replicas(&redis, move |s| {
        s.llm.base_url = url.clone();
        s.llm.model = "fake-model".into();
        s.llm.first_token_timeout_secs = 30;
    })
    .await;
    let class = class(&a).await;
    let mut on_a = connect(&a, &class.student.access_token).await;
    open(&mut on_a, &class.session, None).await;
    send(&mut on_a, json!({ "type": "message.send", "session_id": class.session, "content": QUESTION })).await;
    until(&mut on_a, "answer.delta").await;

    let path = format!("/api/v1/sessions/{}/messages", class.session);
    let on_b = b.post_as(&path, &class.student.access_token, &json!({ "content": "And then?" })).await;
    assert_error(on_b, 409, "turn_in_progress").await;

    // A cancel sent to B stops the turn running on A; then B may ask.
    let mut cancel_on_b = connect(&b, &class.student.access_token).await;
    open(&mut cancel_on_b, &class.session, None).await;
    send(&mut cancel_on_b, json!({ "type": "message.cancel", "session_id": class.session })).await;
    let frames = until(&mut on_a, "answer.done").await;
    assert_eq!(frames.last().unwrap()["status"], "cancelled");
    let asked = b.post_as(&path, &class.student.access_token, &json!({ "content": QUESTION })).await;
    assert_eq!(asked.status(), 200, "{}", asked.text().await.unwrap());
}

/// The `exp` claim of an access token (the server's clock for it), read from its payload.
fn expiry_of(token: &str) -> i64 {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["exp"].as_i64().unwrap()
}

/// Waits until the wall clock is past `unix_secs` (the condition every expiry is judged on).
async fn until_past(unix_secs: i64) {
    while chrono::Utc::now().timestamp_millis() <= unix_secs * 1000 + 100 {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_websocket_lives_on_a_refreshed_token_and_closes_when_it_expires() {
    let app = crate::helpers::spawn_app_with(|s| s.auth.access_token_ttl_secs = 3).await;
    let teacher = app.register("Expiry school").await;
    let other = app.invite(&teacher, "student").await;
    let first_expiry = expiry_of(&teacher.access_token);
    let mut ws = connect(&app, &teacher.access_token).await;

    // A token issued a second later expires a second later: wait for the clock, not for a guess at it.
    until_past(first_expiry - 2).await;
    let refreshed: Value = app
        .post_json("/api/v1/auth/refresh", &json!({ "refresh_token": teacher.refresh_token }))
        .await
        .json()
        .await
        .unwrap();
    let fresh = refreshed["access_token"].as_str().unwrap();
    let second_expiry = expiry_of(fresh);
    assert!(second_expiry > first_expiry);
    send(&mut ws, json!({ "type": "auth", "token": other.access_token })).await;
    let refused = next(&mut ws).await;
    assert_eq!((refused["type"].as_str(), refused["code"].as_str()), (Some("error"), Some("forbidden")));
    send(&mut ws, json!({ "type": "auth", "token": "not-a-token" })).await;
    assert_eq!(next(&mut ws).await["code"], "invalid_token");
    send(&mut ws, json!({ "type": "auth", "token": fresh })).await;
    let ok = next(&mut ws).await;
    assert_eq!(ok["type"], "auth.ok", "{ok}");
    assert_eq!(ok["expires_at"].as_i64(), Some(second_expiry));

    // Past the first token's expiry, the connection still serves.
    until_past(first_expiry).await;
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut ws).await["type"], "pong");
    // When the refreshed one expires, it closes with 4401, and not before.
    let code = close_code(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(code), 4401);
    assert!(chrono::Utc::now().timestamp() >= second_expiry, "closed at the refreshed token's expiry");
}

#[tokio::test]
async fn a_vague_follow_up_is_searched_as_the_standalone_question_the_model_makes_of_it() {
    let fake = FakeLlm::start(vec![
        Script::stream(&["Plants make sugar from light [1]."]),
        Script::stream(&["How do green plants make sugar from sunlight?"]),
        Script::stream(&["Simply: leaves catch light [1]."]),
        Script::stream(&["What is the capital of France?"]),
    ])
    .await;
    // A gate above the vague follow-up's similarity to the material (and below the first question's) makes it
    // find nothing by itself, as it does without an embedding model.
    let app = spawn_with_llm(&fake, |s| s.chat.min_relevance = 0.5).await;
    let class = class(&app).await;
    let path = format!("/api/v1/sessions/{}/messages", class.session);
    let ask = |content: &'static str| {
        let (app, path, token) = (&app, path.clone(), class.student.access_token.clone());
        async move {
            let response = app.post_as(&path, &token, &json!({ "content": content })).await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(ask(QUESTION).await["message"]["answered_by"], "model");

    let answer = ask("Could you say it again, more simply?").await;
    assert_eq!(answer["message"]["answered_by"], "model", "{answer}");
    assert_eq!(answer["message"]["content"], "Simply: leaves catch light [1].");
    assert_eq!(answer["citations"][0]["document_id"], class.plants_doc.as_str());
    assert_eq!(answer["usage"]["total_tokens"], 36, "the rewrite's tokens count too");
    let requests = fake.requests();
    let rewrite = requests[1]["messages"].to_string();
    assert!(rewrite.contains("standalone question") && rewrite.contains(QUESTION), "{rewrite}");
    assert!(requests[2]["messages"].to_string().contains("leaves captures sunlight"), "the answer had the source");

    // Rewritten, a question the material does not cover still finds nothing, and the model is not asked.
    let answer = ask("And what about France's capital?").await;
    assert_eq!(answer["message"]["answered_by"], "not_covered", "{answer}");
    assert_eq!(fake.requests().len(), 4);
}
