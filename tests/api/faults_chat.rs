//! A server killed (SIGKILL) while a model's answer streams: after the restart the question is there, the answer
//! holds the text saved before the kill and is marked `interrupted`, and the session takes the next question.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::fake_llm::{FakeLlm, Script};
use crate::faults::{suite_env, upload};
use crate::helpers::{PASSWORD, test_data_dir};
use crate::process::Replica;

const DELTAS: [&str; 12] = [
    "Rivers carve ",
    "valleys by ",
    "wearing away ",
    "their beds. ",
    "Fast water ",
    "carries sand ",
    "and stones ",
    "that scrape ",
    "the rock, ",
    "and over ",
    "many years ",
    "the valley deepens.",
];

const NOTES: &str = "How rivers shape the land.\n\nRivers carve valleys over thousands of years. Flowing water \
wears away the river bed and carries sand and stones downstream. The stones scrape the rock, a process called \
abrasion, so the valley deepens into a V shape. Where the river meets hard rock it forms a waterfall; where the \
land is flat it winds in meanders and floods its plain.\n";

async fn messages(server: &Replica, token: &str, session: &str) -> Vec<Value> {
    let page = server.get(&format!("/api/v1/sessions/{session}/messages"), token).await;
    page["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_server_killed_while_an_answer_streams_keeps_the_question_and_marks_the_partial_answer() {
    Box::pin(killed_mid_answer()).await;
}

async fn killed_mid_answer() {
    let tag = Uuid::new_v4().simple().to_string();
    // One delta every 400 ms: the answer takes ~5 s, long enough to be killed in the middle.
    let slow = Script::Stream {
        deltas: DELTAS.iter().map(|d| (*d).to_owned()).collect(),
        pause: Duration::from_millis(400),
        usage: Some((40, 12)),
    };
    let llm = FakeLlm::start(vec![slow, Script::stream(&["Yes: water wears the rock away [1]."])]).await;
    let mut env = suite_env(&tag).await;
    env.push(("BWENGE__LLM__BASE_URL".into(), llm.base_url.clone()));
    env.push(("BWENGE__LLM__MODEL".into(), "fake-model".into()));
    // A dead replica's turn lease (in Redis, on the PostgreSQL pass) runs out soon, so the sweep may mark it.
    env.push(("BWENGE__CHAT__TURN_LEASE_SECS".into(), "2".into()));
    let data = test_data_dir();
    let first = Replica::start(&env, &data);
    let email = format!("admin-{tag}@faults.example.org");
    let body = json!({ "org_name": "Faults", "email": email, "password": PASSWORD, "name": "Ada" });
    let token = first.post("/api/v1/auth/register", None, body).await["access_token"].as_str().unwrap().to_owned();
    let collection = first.post("/api/v1/collections", Some(&token), json!({ "name": "Geography" })).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let document = upload(&first, &token, &collection, "rivers.txt", NOTES.into()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while first.get(&format!("/api/v1/documents/{document}"), &token).await["status"] != "ready" {
        assert!(Instant::now() < deadline, "the notes were not ingested");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let persona = json!({ "name": "River guide", "collection_ids": [collection] });
    let persona = first.post("/api/v1/personas", Some(&token), persona).await["id"].as_str().unwrap().to_owned();
    let session = first.post(&format!("/api/v1/personas/{persona}/sessions"), Some(&token), json!({})).await;
    let session = session["id"].as_str().unwrap().to_owned();

    // The question's request waits for the whole answer; the kill ends it, so it runs on its own task.
    let ask = {
        let (client, url, token) =
            (first.client.clone(), format!("{}/api/v1/sessions/{session}/messages", first.base), token.clone());
        let body = json!({ "content": "How do rivers carve their valleys?" });
        tokio::spawn(async move { client.post(url).bearer_auth(token).json(&body).send().await })
    };
    // Wait until the draft holds some text (saved every second), then kill while the rest is still coming.
    let partial = loop {
        let found = messages(&first, &token, &session).await;
        let draft = found.iter().find(|m| m["role"] == "assistant" && m["status"] == "streaming");
        if let Some(text) = draft.and_then(|m| m["content"].as_str()).filter(|t| !t.is_empty()) {
            break text.to_owned();
        }
        assert!(Instant::now() < deadline, "no streaming draft was saved: {found:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let full: String = DELTAS.concat();
    assert!(full.starts_with(&partial) && partial.len() < full.len(), "killed mid-answer: {partial:?}");
    first.kill();
    assert!(ask.await.unwrap().is_err(), "the asker's request ended with the server");

    let second = Replica::start(&env, &data);
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer = loop {
        let found = messages(&second, &token, &session).await;
        let user: Vec<&Value> = found.iter().filter(|m| m["role"] == "user").collect();
        assert_eq!(user.len(), 1, "the question is kept: {found:?}");
        assert_eq!(user[0]["content"], "How do rivers carve their valleys?");
        let answer = found.iter().find(|m| m["role"] == "assistant" && m["answered_by"] == "model").cloned();
        let answer = answer.unwrap_or_else(|| panic!("the answer row is kept: {found:?}"));
        if answer["status"] == "interrupted" {
            break answer;
        }
        assert_eq!(answer["status"], "streaming", "{answer}");
        assert!(Instant::now() < deadline, "the cut-off answer was never marked: {answer}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let kept = answer["content"].as_str().unwrap();
    assert!(kept.starts_with(&partial) && full.starts_with(kept), "the saved partial text is kept: {kept:?}");
    assert_eq!(answer["error_code"], "llm_interrupted");

    // The session is free again: the next question is answered in full.
    let next = second
        .post(
            &format!("/api/v1/sessions/{session}/messages"),
            Some(&token),
            json!({ "content": "What wears away the river bed?" }),
        )
        .await;
    assert_eq!(next["message"]["status"], "complete", "{next}");
    assert!(next["message"]["content"].as_str().unwrap().contains("water wears the rock"), "{next}");
}
