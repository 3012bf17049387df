//! Analytics through the HTTP API, over real chat turns (the fake model answers): the overview, students, one
//! student, one tutor, where the class is stuck and the gaps, each scoped to what the caller oversees.

use std::time::Duration;

use sea_orm::{FromQueryResult, Statement};
use serde_json::{Value, json};

use crate::chat::{PHOTOSYNTHESIS, VOLCANOES, ask, new_session, spawn_with_llm};
use crate::fake_llm::{FakeLlm, Script};
use crate::helpers::{TestApp, TestUser, assert_error};
use crate::ingest::{create_collection, ingest};

pub const OFF_TOPIC: &str = "Who won the football world cup in 1998?";

/// An org: an admin, two teachers each with a class (Ada: Sam and Kim; Bob: Lee), one tutor over two documents.
pub struct School {
    pub admin: TestUser,
    pub ada: TestUser,
    pub bob: TestUser,
    pub sam: TestUser,
    pub kim: TestUser,
    pub lee: TestUser,
    pub persona: String,
    pub ada_class: String,
    pub bob_class: String,
    pub plants_doc: String,
}

pub async fn school(app: &TestApp) -> School {
    let admin = app.register("Analytics school").await;
    let (ada, bob) = (app.invite(&admin, "teacher").await, app.invite(&admin, "teacher").await);
    let (sam, kim, lee) =
        (app.invite(&admin, "student").await, app.invite(&admin, "student").await, app.invite(&admin, "student").await);
    let collection = create_collection(app, &admin, "Science").await;
    let plants = ingest(app, &admin, &collection, "photosynthesis.txt", PHOTOSYNTHESIS.as_bytes().to_vec()).await;
    assert_eq!(plants["status"], "ready", "{plants}");
    let volcanoes = ingest(app, &admin, &collection, "volcanoes.txt", VOLCANOES.as_bytes().to_vec()).await;
    assert_eq!(volcanoes["status"], "ready");
    let persona: Value = app
        .post_as(
            "/api/v1/personas",
            &admin.access_token,
            &json!({ "name": "Professor Leaf", "collection_ids": [collection] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let persona = persona["id"].as_str().unwrap().to_owned();
    let class = |teacher: &TestUser, name: &str, students: Vec<&str>| {
        let body =
            json!({ "name": name, "teacher_ids": [teacher.id], "student_ids": students, "persona_ids": [persona] });
        let token = admin.access_token.clone();
        async move {
            let created: Value = app.post_as("/api/v1/classes", &token, &body).await.json().await.unwrap();
            created["id"].as_str().unwrap_or_else(|| panic!("class: {created}")).to_owned()
        }
    };
    let ada_class = class(&ada, "Biology 7B", vec![&sam.id, &kim.id]).await;
    let bob_class = class(&bob, "Geography 8C", vec![&lee.id]).await;
    let plants_doc = plants["id"].as_str().unwrap().to_owned();
    School { admin, ada, bob, sam, kim, lee, persona, ada_class, bob_class, plants_doc }
}

/// `user` asks each question in a new session of the tutor; each turn must succeed.
pub async fn chat(app: &TestApp, user: &TestUser, persona: &str, questions: &[&str]) -> String {
    let session = new_session(app, user, persona).await;
    for question in questions {
        let response = ask(app, user, &session, question).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    session
}

pub async fn get(app: &TestApp, user: &TestUser, path: &str) -> Value {
    let response = app.get_as(path, &user.access_token).await;
    assert_eq!(response.status(), 200, "{path}: {}", response.text().await.unwrap());
    response.json().await.unwrap()
}

pub async fn fake_model() -> FakeLlm {
    FakeLlm::start(vec![Script::stream(&["Plants use light to make sugar [1]."])]).await
}

#[tokio::test]
async fn teachers_see_their_classes_and_admins_the_whole_org() {
    let fake = fake_model().await;
    let app = spawn_with_llm(&fake, |_| {}).await;
    let s = school(&app).await;
    let sam_session =
        chat(&app, &s.sam, &s.persona, &["How do green plants make sugar from sunlight?", "What does chlorophyll do?"])
            .await;
    chat(&app, &s.kim, &s.persona, &["How do plants turn sunlight into sugar?", OFF_TOPIC]).await;
    chat(&app, &s.lee, &s.persona, &["Why do volcanoes erupt?"]).await;
    app.analytics.flush().await;

    // The admin sees everyone.
    let all = get(&app, &s.admin, "/api/v1/analytics/overview").await;
    let totals = &all["totals"];
    assert_eq!(
        (totals["messages"].as_u64(), totals["sessions"].as_u64(), totals["active_students"].as_u64()),
        (Some(5), Some(3), Some(3)),
        "{all}"
    );
    assert_eq!(totals["answers"], 5);
    assert_eq!(totals["questions_not_covered"], 1);
    assert!(totals["median_session_seconds"].as_f64().is_some());
    assert_eq!(all["days"].as_array().unwrap().len(), 28, "four weeks, every day listed");
    assert_eq!(all["days"].as_array().unwrap().last().unwrap()["messages"], 5);
    assert_eq!(all["top_personas"][0]["name"], "Professor Leaf");
    assert_eq!(all["top_personas"][0]["students"], 3);
    assert_eq!(all["top_documents"][0]["id"], s.plants_doc.as_str(), "{all}");
    assert!(all["top_documents"][0]["citations"].as_u64().unwrap() >= 1);
    assert_eq!(all["not_covered"][0]["question"], OFF_TOPIC);

    // A teacher sees their classes' students, and not another teacher's class.
    let ada = get(&app, &s.ada, "/api/v1/analytics/overview").await;
    assert_eq!((ada["totals"]["messages"].as_u64(), ada["totals"]["active_students"].as_u64()), (Some(4), Some(2)));
    let bob = get(&app, &s.bob, &format!("/api/v1/analytics/overview?class_id={}", s.bob_class)).await;
    assert_eq!(bob["totals"]["messages"], 1);
    let foreign = format!("/api/v1/analytics/overview?class_id={}", s.ada_class);
    assert_error(app.get_as(&foreign, &s.bob.access_token).await, 404, "not_found").await;
    let by_class = get(&app, &s.admin, &foreign).await;
    assert_eq!(by_class["totals"]["messages"], 4);

    // Students see none of it.
    for path in ["/api/v1/analytics/overview", "/api/v1/analytics/students", "/api/v1/analytics/stuck"] {
        assert_error(app.get_as(path, &s.sam.access_token).await, 403, "forbidden").await;
    }

    // The students table: everyone in scope, by name, activity in the period.
    let table = get(&app, &s.ada, "/api/v1/analytics/students").await;
    assert_eq!(table["total"], 2, "{table}");
    let sam_row = table["items"].as_array().unwrap().iter().find(|r| r["id"] == s.sam.id.as_str()).unwrap();
    assert_eq!((sam_row["messages"].as_u64(), sam_row["sessions"].as_u64()), (Some(2), Some(1)));
    assert!(sam_row["last_active"].is_string());
    assert_eq!(get(&app, &s.admin, "/api/v1/analytics/students").await["total"], 3);

    // One student: totals, streak, documents, topics, sessions linking to the transcript.
    let sam = get(&app, &s.ada, &format!("/api/v1/analytics/students/{}", s.sam.id)).await;
    assert_eq!(sam["totals"]["messages"], 2, "{sam}");
    assert_eq!(sam["streak_days"], 1);
    assert_eq!(sam["days"].as_array().unwrap().len(), 28, "every day of the period: {sam}");
    assert_eq!(sam["sessions"][0]["id"], sam_session.as_str());
    assert_eq!(sam["sessions"][0]["persona_name"], "Professor Leaf");
    assert_eq!(sam["documents"][0]["id"], s.plants_doc.as_str());
    assert!(!sam["topics"].as_array().unwrap().is_empty());
    let lee = format!("/api/v1/analytics/students/{}", s.lee.id);
    assert_error(app.get_as(&lee, &s.ada.access_token).await, 404, "not_found").await;
    let teacher_as_student = format!("/api/v1/analytics/students/{}", s.bob.id);
    assert_error(app.get_as(&teacher_as_student, &s.admin.access_token).await, 404, "not_found").await;

    // One tutor: how it answered, latency, tokens.
    let tutor = get(&app, &s.admin, &format!("/api/v1/analytics/personas/{}", s.persona)).await;
    assert_eq!(tutor["totals"]["messages"], 5, "{tutor}");
    assert_eq!(tutor["answered_by"]["not_covered"], 1);
    assert_eq!(tutor["answered_by"]["model"], 4);
    assert!(tutor["totals"]["median_latency_ms"].as_f64().is_some());
    assert!(tutor["totals"]["tokens"].as_u64().unwrap() > 0);

    // Gaps: what the material did not cover.
    let gaps = get(&app, &s.admin, "/api/v1/analytics/gaps").await;
    assert_eq!(gaps["groups"][0]["label"], OFF_TOPIC, "{gaps}");
    assert_eq!(gaps["groups"][0]["not_covered"], 1);

    // Periods are checked.
    let backwards = "/api/v1/analytics/overview?from=2026-02-01&to=2026-01-01";
    assert_error(app.get_as(backwards, &s.admin.access_token).await, 422, "invalid_period").await;
    let long = "/api/v1/analytics/overview?from=2020-01-01&to=2026-01-01";
    assert_error(app.get_as(long, &s.admin.access_token).await, 422, "invalid_period").await;
    let malformed = "/api/v1/analytics/overview?from=yesterday";
    assert_error(app.get_as(malformed, &s.admin.access_token).await, 400, "invalid_query").await;
}

#[tokio::test]
async fn paraphrases_of_one_question_land_in_one_stuck_group() {
    let fake = fake_model().await;
    let app = spawn_with_llm(&fake, |_| {}).await;
    let s = school(&app).await;
    let plants = [
        "How do plants make sugar from sunlight?",
        "How do green plants make their sugar using sunlight?",
        "Explain how plants turn sunlight into sugar",
        "what is the way plants make sugar with sunlight",
    ];
    let volcanoes = ["Why do volcanoes erupt?", "What makes a volcano erupt?", "why does a volcano erupt"];
    chat(&app, &s.sam, &s.persona, &[plants[0], volcanoes[0]]).await;
    chat(&app, &s.kim, &s.persona, &[plants[1], plants[2], volcanoes[1]]).await;
    chat(&app, &s.lee, &s.persona, &[plants[3], volcanoes[2], OFF_TOPIC]).await;
    app.analytics.flush().await;

    let stuck = get(&app, &s.admin, "/api/v1/analytics/stuck").await;
    let groups = stuck["groups"].as_array().unwrap();
    let group_of = |question: &str| {
        groups
            .iter()
            .position(|g| g["examples"].as_array().unwrap().iter().any(|e| e == question) || g["label"] == question)
    };
    let first = groups[0].clone();
    assert_eq!(first["questions"], 4, "the plant paraphrases, all of them, and only them: {stuck}");
    assert_eq!(first["students"], 3);
    assert_eq!(first["answered"], 4);
    assert_eq!(first["documents"][0]["id"], s.plants_doc.as_str());
    assert_eq!(groups[1]["questions"], 3, "the volcano paraphrases: {stuck}");
    assert!(group_of(volcanoes[0]).is_some_and(|g| g == 1));
    assert!(groups.iter().all(|g| g["questions"].as_u64().unwrap() >= 2), "single questions are not 'stuck'");
    assert!(group_of(OFF_TOPIC).is_none());

    // Grouping is stable across calls (the embeddings are stored, not recomputed differently).
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(get(&app, &s.admin, "/api/v1/analytics/stuck").await["groups"], stuck["groups"]);
    // A teacher's groups hold only their students' questions.
    let bob = get(&app, &s.bob, "/api/v1/analytics/stuck").await;
    assert!(bob["groups"].as_array().unwrap().iter().all(|g| g["students"] == 1), "{bob}");
}

#[tokio::test]
async fn client_events_are_allow_listed_validated_and_rate_limited() {
    let fake = fake_model().await;
    let app = spawn_with_llm(&fake, |s| s.analytics.client_events_per_minute = 4).await;
    let admin = app.register("Events school").await;
    let student = app.invite(&admin, "student").await;
    let post = |body: Value| {
        let token = student.access_token.clone();
        let app = &app;
        async move { app.post_as("/api/v1/events", &token, &body).await }
    };
    let response = post(json!({ "events": [
        { "type": "page_viewed", "data": { "path": "/tutors" } },
        { "type": "answer_rated", "message_id": uuid::Uuid::now_v7(), "data": { "rating": "up" } },
    ] }))
    .await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.json::<Value>().await.unwrap()["accepted"], 2);

    for bad in [
        json!({ "events": [] }),
        json!({ "events": [{ "type": "drop_tables" }] }),
        json!({ "events": [{ "type": "answer_rated", "data": { "rating": "meh" } }] }),
        json!({ "events": [{ "type": "page_viewed", "data": { "blob": "x".repeat(2000) } }] }),
        json!({ "events": (0..21).map(|_| json!({ "type": "page_viewed" })).collect::<Vec<_>>() }),
    ] {
        assert_error(post(bad).await, 422, "invalid_event").await;
    }
    assert_error(post(json!({ "events": [{ "type": "page_viewed", "extra": 1 }] })).await, 422, "invalid_body").await;
    assert_error(
        post(json!({ "events": [{ "type": "page_viewed" }, { "type": "page_viewed" }, { "type": "page_viewed" }] }))
            .await,
        429,
        "rate_limited",
    )
    .await;

    app.analytics.flush().await;
    let sql = "SELECT kind FROM analytics_events WHERE kind IN ('page_viewed', 'answer_rated') ORDER BY kind";
    let statement = Statement::from_string(app.backends.db.get_database_backend(), sql);
    let stored: Vec<String> =
        Kind::find_by_statement(statement).all(&app.backends.db).await.unwrap().into_iter().map(|k| k.kind).collect();
    assert_eq!(stored, ["answer_rated", "page_viewed"]);
}

#[derive(FromQueryResult)]
struct Kind {
    kind: String,
}
