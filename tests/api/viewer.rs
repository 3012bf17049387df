//! The document viewer's API: a real PDF and a text file read by page and by part, a citation's chunk opening at
//! its page, and progress that moves in steps a person can watch.

use serde_json::{Value, json};

use crate::fake_llm::{FakeLlm, Script};
use crate::helpers::{TestApp, TestUser, assert_error, spawn_app};
use crate::ingest::{create_collection, ingest, upload};

pub const PDF: &[u8] = include_bytes!("../fixtures/py_errors_exceptions.pdf");
pub const DOCX: &[u8] = include_bytes!("../fixtures/py_data_structures.docx");

async fn content(app: &TestApp, user: &TestUser, doc: &str, query: &str) -> reqwest::Response {
    app.get_as(&format!("/api/v1/documents/{doc}/content{query}"), &user.access_token).await
}

#[tokio::test]
async fn a_pdf_reads_page_by_page_and_a_chunk_opens_its_page() {
    let app = spawn_app().await;
    let teacher = app.register("Viewer school").await;
    let student = app.invite(&teacher, "student").await;
    let collection = create_collection(&app, &teacher, "Python").await;
    let doc = ingest(&app, &teacher, &collection, "errors.pdf", PDF.to_vec()).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    let id = doc["id"].as_str().unwrap();

    let first: Value = content(&app, &student, id, "").await.json().await.unwrap();
    assert_eq!(first["unit"], "page");
    assert_eq!(first["document"]["id"], id);
    let locations: Vec<i64> = first["locations"].as_array().unwrap().iter().map(|l| l.as_i64().unwrap()).collect();
    assert!(locations.len() > 2 && locations[0] == 1, "{locations:?}");
    assert_eq!(first["location"], 1);
    assert!(first["passages"].as_array().unwrap().iter().all(|p| p["page"] == 1));
    assert!(first["passages"][0]["heading_path"].as_str().unwrap().starts_with("8. Errors and Exceptions"), "{first}");
    assert!(first["passages"][0]["text"].as_str().unwrap().contains("error messages"), "{first}");
    assert!(first["focus"].is_null());

    let third: Value = content(&app, &student, id, "?page=3").await.json().await.unwrap();
    assert_eq!(third["location"], 3);
    let passages = third["passages"].as_array().unwrap();
    assert!(!passages.is_empty() && passages.iter().all(|p| p["page"] == 3), "{third}");
    // Consecutive passages are shown without the words the chunks share (their overlap).
    for pair in passages.windows(2) {
        let (before, after) = (pair[0]["text"].as_str().unwrap(), pair[1]["text"].as_str().unwrap());
        let tail: Vec<&str> = before.split_whitespace().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect();
        assert!(!after.starts_with(&tail.join(" ")), "repeated overlap: {before:?} / {after:?}");
    }

    // A search hit (as a citation carries it) opens at its page with the chunk in focus.
    let found: Value = app
        .post_as("/api/v1/search", &student.access_token, &json!({ "query": "raise an exception with a traceback" }))
        .await
        .json()
        .await
        .unwrap();
    let hit = &found["results"][0];
    let at: Value = content(&app, &student, id, &format!("?chunk_id={}", hit["chunk_id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(at["location"], hit["page"]);
    assert_eq!(at["focus"], hit["chunk_id"]);

    assert_error(content(&app, &student, id, "?page=999").await, 404, "not_found").await;
    assert_error(content(&app, &student, id, "?slide=1").await, 422, "invalid_request").await;
    assert_error(content(&app, &student, id, "?page=1&part=1").await, 422, "invalid_request").await;
    let unknown = format!("?chunk_id={}", uuid::Uuid::new_v4());
    assert_error(content(&app, &student, id, &unknown).await, 404, "not_found").await;
    assert_error(content(&app, &student, id, "?page=two").await, 400, "invalid_query").await;
    let stranger = app.register("Stranger school").await;
    assert_error(content(&app, &stranger, id, "").await, 404, "not_found").await;
}

#[tokio::test]
async fn text_without_pages_reads_in_parts() {
    let app = spawn_app().await;
    let teacher = app.register("Parts school").await;
    let collection = create_collection(&app, &teacher, "Notes").await;
    let text: String = (1..=1200).map(|i| format!("Sentence number {i} talks about topic {i}. ")).collect();
    let doc = ingest(&app, &teacher, &collection, "notes.txt", text.into_bytes()).await;
    let id = doc["id"].as_str().unwrap();
    let first: Value = content(&app, &teacher, id, "").await.json().await.unwrap();
    assert_eq!(first["unit"], "part");
    let parts = first["locations"].as_array().unwrap().len();
    assert!(parts >= 2, "{first}");
    let last: Value = content(&app, &teacher, id, &format!("?part={parts}")).await.json().await.unwrap();
    let text = last["passages"].as_array().unwrap().last().unwrap()["text"].as_str().unwrap().to_owned();
    assert!(text.ends_with("topic 1200."), "the last part ends the document: {text}");
    assert_error(content(&app, &teacher, id, "?page=1").await, 422, "invalid_request").await;

    // A Word document has no pages either; its passages carry their headings.
    let docx = ingest(&app, &teacher, &collection, "data.docx", DOCX.to_vec()).await;
    let read: Value = content(&app, &teacher, docx["id"].as_str().unwrap(), "").await.json().await.unwrap();
    assert_eq!(read["unit"], "part");
    let headings: Vec<&str> =
        read["passages"].as_array().unwrap().iter().filter_map(|p| p["heading_path"].as_str()).collect();
    assert!(headings.iter().any(|h| h.contains("Lists")), "{headings:?}");
}

#[tokio::test]
async fn a_pdfs_progress_moves_in_small_steps_to_ready() {
    let app = spawn_app().await;
    let teacher = app.register("Progress school").await;
    let collection = create_collection(&app, &teacher, "Python").await;
    let response = upload(&app, &teacher, &collection, "errors.pdf", PDF.to_vec()).await;
    let doc: Value = response.json().await.unwrap();
    let id = doc["id"].as_str().unwrap();
    let events = app.get_as(&format!("/api/v1/documents/{id}/events"), &teacher.access_token).await;
    let body = tokio::time::timeout(std::time::Duration::from_secs(120), events.text()).await.unwrap().unwrap();
    let states: Vec<Value> =
        body.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(states.last().unwrap()["status"], "ready");
    let progress: Vec<i64> =
        states.iter().filter(|s| s["status"] == "processing").map(|s| s["progress"].as_i64().unwrap()).collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "never backwards: {progress:?}");
    assert!(progress.len() >= 5, "several steps: {progress:?}");
    let largest = progress.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(largest <= 30, "no long stall then a jump: {progress:?}");
    let stages: Vec<&str> = states.iter().filter_map(|s| s["stage"].as_str()).collect();
    assert!(stages.contains(&"extracting") && stages.contains(&"indexing"), "{stages:?}");
}

#[tokio::test]
async fn citations_carry_the_heading_and_chunk_the_viewer_opens() {
    let fake = FakeLlm::start(vec![Script::stream(&["Plants make sugar from light [1]."])]).await;
    let app = crate::chat::spawn_with_llm(&fake, |_| {}).await;
    let teacher = app.register("Cite school").await;
    let student = app.invite(&teacher, "student").await;
    let collection = create_collection(&app, &teacher, "Science").await;
    let notes = format!("# Plants\n\n## Photosynthesis\n\n{}\n", crate::chat::PHOTOSYNTHESIS);
    let doc = ingest(&app, &teacher, &collection, "plants.md", notes.into_bytes()).await;
    let persona: Value = app
        .post_as("/api/v1/personas", &teacher.access_token, &json!({ "name": "Leaf", "collection_ids": [collection] }))
        .await
        .json()
        .await
        .unwrap();
    let session = crate::chat::new_session(&app, &student, persona["id"].as_str().unwrap()).await;
    let turn: Value = app
        .post_as(
            &format!("/api/v1/sessions/{session}/messages"),
            &student.access_token,
            &json!({ "content": crate::chat::QUESTION }),
        )
        .await
        .json()
        .await
        .unwrap();
    let citation = &turn["citations"][0];
    assert_eq!(citation["document_id"], doc["id"]);
    assert_eq!(citation["heading_path"], "Plants > Photosynthesis", "{turn}");
    let chunk = citation["chunk_id"].as_str().expect("a chunk id");
    let doc_id = doc["id"].as_str().unwrap();
    let opened: Value = content(&app, &student, doc_id, &format!("?chunk_id={chunk}")).await.json().await.unwrap();
    assert_eq!(opened["focus"], chunk);
    let focused = opened["passages"].as_array().unwrap().iter().find(|p| p["chunk_id"] == chunk).unwrap();
    assert!(focused["text"].as_str().unwrap().contains("Chlorophyll"), "{opened}");
}
