//! The relevance gate: what never reaches the model, what reaches it flagged as borderline, and a small collection
//! that must not make every question look relevant.

use serde_json::{Value, json};

use crate::chat::{PHOTOSYNTHESIS, QUESTION, ask, class, new_session, spawn_with_llm};
use crate::fake_llm::{FakeLlm, Script};
use crate::ingest::{create_collection, ingest};

/// The model's system prompt in a recorded request.
fn system_prompt(request: &Value) -> String {
    request["messages"][0]["content"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_borderline_question_reaches_the_model_told_to_say_when_the_material_does_not_cover_it() {
    let fake = FakeLlm::start(vec![
        Script::stream(&["Plants make sugar [1]."]),
        Script::stream(&["The course material does not cover that."]),
    ])
    .await;
    let app = spawn_with_llm(&fake, |s| {
        // Everything passes the gate, and a question must be almost identical to its source to be more than
        // borderline: only the second question is.
        s.chat.min_relevance = -1.0;
        s.chat.max_unmatched_weight = 2.1;
        s.chat.min_sentence_relevance = -1.0;
        s.chat.borderline_relevance = 0.99;
    })
    .await;
    if !app.has_embeddings() {
        println!("no embedding model on this machine: relevance needs one");
        return;
    }
    let students = class(&app).await;
    let clear: Value = ask(&app, &students.student, &students.session, QUESTION).await.json().await.unwrap();
    assert_eq!(clear["message"]["answered_by"], "model", "{clear}");
    let borderline: Value = ask(&app, &students.student, &students.session, "Which trees lose their leaves in autumn?")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(borderline["message"]["answered_by"], "model", "{borderline}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert!(system_prompt(request).contains("only loosely related"), "below 0.99 both are borderline");
    }

    // With the shipped calibration, the question about the material is not borderline, and one it does not cover
    // never reaches the model.
    let fake = FakeLlm::start(vec![Script::stream(&["Plants make sugar [1]."])]).await;
    let app = spawn_with_llm(&fake, |_| {}).await;
    let students = class(&app).await;
    let clear: Value = ask(&app, &students.student, &students.session, QUESTION).await.json().await.unwrap();
    assert_eq!(clear["message"]["answered_by"], "model", "{clear}");
    assert!(!system_prompt(&fake.requests()[0]).contains("only loosely related"));
    let off: Value =
        ask(&app, &students.student, &students.session, "What is the capital of France?").await.json().await.unwrap();
    assert_eq!(off["message"]["answered_by"], "not_covered", "{off}");
    assert_eq!(fake.requests().len(), 1, "the gated question never reached the model");
}

#[tokio::test]
async fn a_borderline_question_no_sentence_of_the_sources_comes_near_is_refused_without_the_model() {
    let fake = FakeLlm::start(vec![Script::stream(&["Plants make sugar [1]."])]).await;
    // Only the sentence gate decides: every question passes the others and counts as borderline.
    let app = spawn_with_llm(&fake, |s| {
        s.chat.min_relevance = -1.0;
        s.chat.max_unmatched_weight = 2.1;
        s.chat.borderline_relevance = 0.99;
    })
    .await;
    if !app.has_embeddings() {
        println!("no embedding model on this machine: sentences are compared with one");
        return;
    }
    let students = class(&app).await;
    let off: Value =
        ask(&app, &students.student, &students.session, "What is the capital of France?").await.json().await.unwrap();
    assert_eq!(off["message"]["answered_by"], "not_covered", "{off}");
    assert_eq!(off["citations"], json!([]));
    assert!(fake.requests().is_empty(), "the refused question never reached the model");
    // "Photosynthesis is how green plants make sugar." is close: the question reaches the model, flagged.
    let near: Value = ask(&app, &students.student, &students.session, QUESTION).await.json().await.unwrap();
    assert_eq!(near["message"]["answered_by"], "model", "{near}");
    assert!(system_prompt(&fake.requests()[0]).contains("only loosely related"));
}

#[tokio::test]
async fn a_small_collection_does_not_make_every_question_look_relevant() {
    // One short document: whatever is asked, its chunk tops every ranked list, so a rank-based gate would pass
    // anything. The relevance gate does not.
    let fake = FakeLlm::start(vec![Script::stream(&["Plants make sugar [1]."])]).await;
    let app = spawn_with_llm(&fake, |_| {}).await;
    if !app.has_embeddings() {
        println!("no embedding model on this machine: the BM25-only gate is tested elsewhere");
        return;
    }
    let teacher = app.register("One-document school").await;
    let collection = create_collection(&app, &teacher, "Biology").await;
    let plants = ingest(&app, &teacher, &collection, "photosynthesis.txt", PHOTOSYNTHESIS.as_bytes().to_vec()).await;
    assert_eq!(plants["status"], "ready");
    let persona: Value = app
        .post_as("/api/v1/personas", &teacher.access_token, &json!({ "name": "Bio", "collection_ids": [collection] }))
        .await
        .json()
        .await
        .unwrap();
    let session = new_session(&app, &teacher, persona["id"].as_str().unwrap()).await;
    for question in ["What is the capital of France?", "Who won the football world cup in 1998?"] {
        let turn: Value = ask(&app, &teacher, &session, question).await.json().await.unwrap();
        assert_eq!(turn["message"]["answered_by"], "not_covered", "{question}: {turn}");
    }
    let turn: Value = ask(&app, &teacher, &session, QUESTION).await.json().await.unwrap();
    assert_eq!(turn["message"]["answered_by"], "model", "{turn}");
    assert_eq!(fake.requests().len(), 1, "only the question about the material reached the model");
}

#[tokio::test]
async fn below_the_relevance_threshold_the_model_is_not_called() {
    let fake = FakeLlm::start(vec![Script::stream(&["invented"])]).await;
    // Above any cosine similarity: nothing is relevant enough.
    let app = spawn_with_llm(&fake, |s| {
        s.chat.min_relevance = 1.5;
        s.chat.min_score_sparse = 1.5;
    })
    .await;
    let class = class(&app).await;
    let turn: Value = ask(&app, &class.student, &class.session, QUESTION).await.json().await.unwrap();
    assert_eq!(turn["message"]["answered_by"], "not_covered", "{turn}");
    assert!(turn["message"]["content"].as_str().unwrap().contains("does not cover"));
    assert_eq!(turn["citations"], json!([]));
    assert!(fake.requests().is_empty(), "the model was not asked");
}

#[tokio::test]
async fn a_question_resting_on_words_the_material_never_uses_is_refused_naming_them() {
    let fake = FakeLlm::start(vec![Script::stream(&["Plants make sugar [1]."])]).await;
    // The cosine gate off: only the unmatched words decide.
    let app = spawn_with_llm(&fake, |s| s.chat.min_relevance = -1.0).await;
    if !app.has_embeddings() {
        println!("no embedding model on this machine: words are weighed with one");
        return;
    }
    let class = class(&app).await;
    let turn: Value =
        ask(&app, &class.student, &class.session, "What is a photobioreactor?").await.json().await.unwrap();
    let content = turn["message"]["content"].as_str().unwrap();
    assert_eq!(turn["message"]["answered_by"], "not_covered", "{turn}");
    assert!(content.contains("never mentions \"photobioreactor\""), "{content}");
    assert_eq!(turn["citations"], json!([]));
    let turn: Value = ask(&app, &class.student, &class.session, QUESTION).await.json().await.unwrap();
    assert_eq!(turn["message"]["answered_by"], "model", "every word of it is in the material: {turn}");
    assert_eq!(fake.requests().len(), 1, "the refused question never reached the model");
}
