//! Chat over HTTP: JSON and SSE turns against the fake SSE model, citations pointing at the right document,
//! cues stripped from the text, the extractive tutor, upstream failures, and who may read
//! which session.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_llm::{FakeLlm, Script};
use crate::helpers::{TestApp, TestUser, assert_error, spawn_app, spawn_app_with};
use crate::ingest::{create_collection, ingest};

pub const PHOTOSYNTHESIS: &str = "Photosynthesis is how green plants make sugar. Chlorophyll in the leaves \
    captures sunlight, and the plant turns carbon dioxide and water into glucose and oxygen.";
pub const VOLCANOES: &str = "Volcanoes erupt when magma rises through the crust. Lava, ash and gas escape \
    through vents; basalt forms when lava cools quickly.";
pub const QUESTION: &str = "How do green plants make sugar from sunlight?";

/// An org with a teacher's persona over two documents, and a student with a session of it.
pub struct Class {
    pub teacher: TestUser,
    pub student: TestUser,
    pub persona: String,
    pub session: String,
    /// The id of the photosynthesis document, the one QUESTION is about.
    pub plants_doc: String,
}

pub async fn class(app: &TestApp) -> Class {
    let teacher = app.register("Chat school").await;
    let student = app.invite(&teacher, "student").await;
    let collection = create_collection(app, &teacher, "Science").await;
    let plants = ingest(app, &teacher, &collection, "photosynthesis.txt", PHOTOSYNTHESIS.as_bytes().to_vec()).await;
    assert_eq!(plants["status"], "ready", "{plants}");
    let volcano = ingest(app, &teacher, &collection, "volcanoes.txt", VOLCANOES.as_bytes().to_vec()).await;
    assert_eq!(volcano["status"], "ready");
    let persona: Value = app
        .post_as(
            "/api/v1/personas",
            &teacher.access_token,
            &json!({ "name": "Professor Leaf", "tone": "warm", "teaching_mode": "socratic",
                "instructions": "Keep answers short.", "greeting": "Hello! Ask me about science.",
                "collection_ids": [collection] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let persona = persona["id"].as_str().unwrap().to_owned();
    let session = new_session(app, &student, &persona).await;
    Class { teacher, student, persona, session, plants_doc: plants["id"].as_str().unwrap().to_owned() }
}

pub async fn new_session(app: &TestApp, user: &TestUser, persona: &str) -> String {
    let response = app.post_as(&format!("/api/v1/personas/{persona}/sessions"), &user.access_token, &json!({})).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

pub async fn spawn_with_llm(fake: &FakeLlm, edit: impl FnOnce(&mut bwenge::config::Settings)) -> TestApp {
    let url = fake.base_url.clone();
    spawn_app_with(move |s| {
        s.llm.base_url = url;
        s.llm.model = "fake-model".into();
        s.llm.first_token_timeout_secs = 2;
        edit(s);
    })
    .await
}

pub async fn ask(app: &TestApp, user: &TestUser, session: &str, content: &str) -> reqwest::Response {
    app.post_as(&format!("/api/v1/sessions/{session}/messages"), &user.access_token, &json!({ "content": content }))
        .await
}

pub async fn history(app: &TestApp, user: &TestUser, session: &str) -> Value {
    let response = app.get_as(&format!("/api/v1/sessions/{session}/messages?per_page=100"), &user.access_token).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn cue_names(cues: &Value) -> Vec<(String, u64)> {
    cues.as_array()
        .unwrap()
        .iter()
        .map(|c| (c["cue"].as_str().unwrap().to_owned(), c["at_char"].as_u64().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_json_turn_answers_from_the_model_with_citations_and_cues() {
    let fake =
        FakeLlm::start(vec![Script::stream(&["Plants use light to make sugar [1]. [cue:cele", "brate]Great!"])]).await;
    let app = spawn_with_llm(&fake, |_| {}).await;
    let class = class(&app).await;
    let response = ask(&app, &class.student, &class.session, QUESTION).await;
    assert_eq!(response.status(), 200);
    let turn: Value = response.json().await.unwrap();

    let text = "Plants use light to make sugar [1]. Great!";
    assert_eq!(turn["message"]["content"], text, "cue tags stripped: {turn}");
    assert_eq!(turn["message"]["status"], "complete");
    assert_eq!(turn["message"]["answered_by"], "model");
    assert_eq!(turn["usage"], json!({"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}));
    let citations = turn["citations"].as_array().unwrap();
    assert_eq!(citations.len(), 1, "only the cited source: {turn}");
    assert_eq!(citations[0]["index"], 1);
    assert_eq!(citations[0]["document_id"], class.plants_doc.as_str());
    assert_eq!(citations[0]["document_name"], "photosynthesis.txt");
    assert!(citations[0]["snippet"].as_str().unwrap().contains("Photosynthesis"));
    let cues = cue_names(&turn["cues"]);
    let end = text.chars().count() as u64;
    assert_eq!(
        cues,
        [("think".into(), 0), ("explain".into(), 0), ("celebrate".into(), 36), ("idle".into(), end)],
        "celebrate at the character where the tag was"
    );

    // What the model was asked: the persona, numbered sources, and the question last.
    let sent = &fake.requests()[0];
    let system = sent["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("Professor Leaf") && system.contains("Tone: warm") && system.contains("socratic"));
    assert!(system.contains("Keep answers short.") && system.contains("[1] photosynthesis.txt"), "{system}");
    assert!(system.contains("chlorophyll") || system.contains("Chlorophyll"));
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages.last().unwrap()["content"], QUESTION);

    // Stored: greeting, question, answer.
    let stored = history(&app, &class.student, &class.session).await;
    assert_eq!(stored["total"], 3, "{stored}");
    let items = stored["items"].as_array().unwrap();
    assert_eq!(items[0]["answered_by"], "greeting");
    assert_eq!((items[1]["role"].as_str(), items[1]["content"].as_str()), (Some("user"), Some(QUESTION)));
    assert_eq!(items[2]["id"], turn["message"]["id"]);
    assert_eq!(items[2]["citations"], turn["citations"]);

    // The next turn carries the history.
    let next = "Which gas do plants give off when they turn carbon dioxide and water into glucose?";
    let second = ask(&app, &class.student, &class.session, next).await;
    assert_eq!(second.status(), 200);
    let sent = &fake.requests()[1];
    let contents: Vec<&str> =
        sent["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert!(contents.contains(&QUESTION) && contents.contains(&text), "{contents:?}");
    assert_eq!(*contents.last().unwrap(), next);
}

/// Server-Sent Events, in order: `(event, data)`.
pub fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let event = block.lines().find_map(|l| l.strip_prefix("event: ")).unwrap().to_owned();
            let data = block.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            (event, serde_json::from_str(data).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn an_sse_turn_carries_the_websocket_frames() {
    let fake = FakeLlm::start(vec![Script::stream(&["Sugar ", "[cue:encourage]", "comes from light [2]."])]).await;
    let app = spawn_with_llm(&fake, |_| {}).await;
    let class = class(&app).await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/sessions/{}/messages", class.session)))
        .bearer_auth(&class.student.access_token)
        .header("accept", "text/event-stream")
        .json(&json!({ "content": QUESTION }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = sse_events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"message.accepted"), "{names:?}");
    assert_eq!(names.last(), Some(&"answer.done"), "{names:?}");
    for (event, data) in &events {
        assert_eq!(data["type"], event.as_str(), "the event name is the frame type");
    }
    let text: String =
        events.iter().filter(|(e, _)| e == "answer.delta").map(|(_, d)| d["text"].as_str().unwrap()).collect();
    assert_eq!(text, "Sugar comes from light [2].");
    let cues: Vec<(&str, u64)> = events
        .iter()
        .filter(|(e, _)| e == "avatar.cue")
        .map(|(_, d)| (d["cue"].as_str().unwrap(), d["at_char"].as_u64().unwrap()))
        .collect();
    assert_eq!(cues, [("think", 0), ("explain", 0), ("encourage", 6), ("idle", 27)]);
    assert!(events.iter().filter(|(e, _)| e == "avatar.cue").all(|(_, d)| d["clip"].is_null()), "no avatar yet");
    let citations: Vec<&Value> = events.iter().filter(|(e, _)| e == "answer.citation").map(|(_, d)| d).collect();
    assert_eq!(citations.len(), 1);
    assert_eq!(citations[0]["index"], 2);
    let done = &events.last().unwrap().1;
    assert_eq!(done["status"], "complete");
    assert_eq!(done["usage"]["total_tokens"], 18);
    let answer_id = done["message_id"].clone();
    assert!(events.iter().filter(|(e, _)| e != "message.accepted").all(|(_, d)| d["message_id"] == answer_id));
    let question_id = events[0].1["message_id"].clone();
    let stored = history(&app, &class.student, &class.session).await;
    let ids: Vec<&Value> = stored["items"].as_array().unwrap().iter().map(|m| &m["id"]).collect();
    assert_eq!(ids[1..], [&question_id, &answer_id], "question stored, then the answer");
}

#[tokio::test]
async fn without_a_model_the_extractive_tutor_quotes_the_material() {
    let app = spawn_app().await;
    assert!(app.backends.llm.is_none());
    let class = class(&app).await;
    let turn: Value = ask(&app, &class.student, &class.session, QUESTION).await.json().await.unwrap();
    let content = turn["message"]["content"].as_str().unwrap();
    assert_eq!(turn["message"]["answered_by"], "extractive", "{turn}");
    assert!(content.starts_with("No language model is set up"), "labelled, not posing as a model: {content}");
    assert!(content.contains("quoted") && content.contains("> Photosynthesis is how green plants"), "{content}");
    // The sentence that answers leads, cited, before the passage it comes from.
    let lead = "> **Photosynthesis is how green plants make sugar.** [1]";
    assert!(content.find(lead).is_some_and(|at| at < content.find("> Photosynthesis is").unwrap()), "{content}");
    assert_eq!(turn["citations"][0]["document_id"], class.plants_doc.as_str(), "best passage first: {turn}");
    assert_eq!(turn["usage"], Value::Null);
    let cues = cue_names(&turn["cues"]);
    assert_eq!(cues.first().unwrap().0, "think");
    assert_eq!(cues.last().unwrap().0, "idle");
}

#[tokio::test]
async fn without_a_model_a_vague_follow_up_stays_on_the_previous_questions_material() {
    let app = spawn_app().await;
    let class = class(&app).await;
    ask(&app, &class.student, &class.session, QUESTION).await;
    let turn: Value =
        ask(&app, &class.student, &class.session, "Can you say that more simply?").await.json().await.unwrap();
    let content = turn["message"]["content"].as_str().unwrap();
    assert_eq!(turn["message"]["answered_by"], "extractive", "{turn}");
    assert!(content.contains("can't put it in other words") && content.contains(QUESTION), "says so: {content}");
    assert!(content.contains("> **Photosynthesis is how green plants make sugar.** [1]"), "{content}");
    assert_eq!(turn["citations"].as_array().unwrap().len(), 1, "only the best passage again: {turn}");
    assert_eq!(turn["citations"][0]["document_id"], class.plants_doc.as_str());

    // With nothing before it, or naming a subject of its own, there is nothing to stay on.
    let fresh = new_session(&app, &class.student, &class.persona).await;
    let turn: Value = ask(&app, &class.student, &fresh, "Can you say that more simply?").await.json().await.unwrap();
    assert_eq!(turn["message"]["answered_by"], "not_covered", "{turn}");
    if app.has_embeddings() {
        let turn: Value =
            ask(&app, &class.student, &class.session, "What is the capital of France?").await.json().await.unwrap();
        assert_eq!(turn["message"]["answered_by"], "not_covered", "{turn}");
    }
}

#[tokio::test]
async fn an_upstream_error_is_clear_and_the_session_stays_usable() {
    let fake = FakeLlm::start(vec![
        Script::Status(500, r#"{"error":{"message":"secret-internal-detail"}}"#.into()),
        Script::stream(&["Back again [1]."]),
    ])
    .await;
    let app = spawn_with_llm(&fake, |_| {}).await;
    let class = class(&app).await;
    let body = assert_error(ask(&app, &class.student, &class.session, QUESTION).await, 502, "llm_upstream_error").await;
    assert!(!body.to_string().contains("secret-internal-detail"), "the endpoint's words stay in the log");
    // A vague "try again" would not pass the relevance gate: ask the question again.
    let turn: Value = ask(&app, &class.student, &class.session, QUESTION).await.json().await.unwrap();
    assert_eq!(turn["message"]["content"], "Back again [1].");
    let stored = history(&app, &class.student, &class.session).await;
    let statuses: Vec<(&str, &str)> = stored["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("assistant", "complete"),
            ("user", "complete"),
            ("assistant", "failed"),
            ("user", "complete"),
            ("assistant", "complete")
        ],
        "the question was kept before the model failed"
    );
    assert_eq!(stored["items"][2]["error_code"], "llm_upstream_error");
}

#[tokio::test]
async fn sessions_are_private_to_their_student_and_org() {
    let app = spawn_app().await;
    let class = class(&app).await;
    let other_student = app.invite(&class.teacher, "student").await;
    let outsider = app.register("Other school").await;
    let path = format!("/api/v1/sessions/{}/messages", class.session);

    for intruder in [&other_student, &outsider] {
        assert_error(app.get_as(&path, &intruder.access_token).await, 404, "not_found").await;
        assert_error(ask(&app, intruder, &class.session, "hi").await, 404, "not_found").await;
    }
    let response =
        app.post_as(&format!("/api/v1/personas/{}/sessions", class.persona), &outsider.access_token, &json!({})).await;
    assert_error(response, 404, "not_found").await;
    // Teachers read their students' sessions but do not write in them.
    assert_eq!(app.get_as(&path, &class.teacher.access_token).await.status(), 200);
    assert_error(ask(&app, &class.teacher, &class.session, "hi").await, 403, "forbidden").await;
    assert_error(ask(&app, &class.student, &class.session, "   ").await, 422, "invalid_request").await;

    // Lists are per user and paginated.
    new_session(&app, &class.student, &class.persona).await;
    let mine: Value =
        app.get_as("/api/v1/sessions?per_page=1", &class.student.access_token).await.json().await.unwrap();
    assert_eq!((mine["total"].as_u64(), mine["items"].as_array().unwrap().len()), (Some(2), 1));
    let theirs: Value = app.get_as("/api/v1/sessions", &other_student.access_token).await.json().await.unwrap();
    assert_eq!(theirs["total"], 0);
    let persona_path = format!("/api/v1/personas/{}", class.persona);
    let deleted = app.send(Method::DELETE, &persona_path, Some(&class.teacher.access_token), None).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(history(&app, &class.student, &class.session).await["total"], 1, "history outlives the persona");
    assert_error(ask(&app, &class.student, &class.session, "still there?").await, 404, "not_found").await;
}
