//! The whole-org rollups (session-length histogram, citations per document) agree with the per-student ones a class
//! reads, as sessions grow across the writer's batches, and the migration that added them filled them from history.

use bwenge::analytics::Activity;
use bwenge::chat::views::ChatActivity;
use chrono::{DateTime, Duration, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestUser, spawn_app};

struct Session {
    org_id: Uuid,
    user_id: Uuid,
    persona_id: Uuid,
    id: Uuid,
}

impl Session {
    fn start(app: &TestApp, user: &TestUser, persona_id: Uuid, at: DateTime<Utc>) -> Self {
        let session = Session {
            org_id: user.org_id.parse().unwrap(),
            user_id: user.id.parse().unwrap(),
            persona_id,
            id: Uuid::now_v7(),
        };
        let (org_id, user_id, session_id) = (session.org_id, session.user_id, session.id);
        app.analytics.record(Activity::Chat(ChatActivity::SessionStarted {
            org_id,
            user_id,
            session_id,
            persona_id,
            at,
        }));
        session
    }

    /// A question at `at`, answered at once, citing `documents`.
    fn turn(&self, app: &TestApp, at: DateTime<Utc>, documents: &[Uuid]) {
        let (org_id, user_id, session_id, persona_id) = (self.org_id, self.user_id, self.id, self.persona_id);
        let question_id = Uuid::now_v7();
        app.analytics.record(Activity::Chat(ChatActivity::MessageSent {
            org_id,
            user_id,
            session_id,
            persona_id,
            message_id: question_id,
            text: "What is osmosis?".into(),
            at,
        }));
        app.analytics.record(Activity::Chat(ChatActivity::AnswerCompleted {
            org_id,
            user_id,
            session_id,
            persona_id,
            question_id,
            message_id: Uuid::now_v7(),
            answered_by: "model".into(),
            status: "complete".into(),
            latency_ms: 800,
            tokens: Some(100),
            documents: documents.to_vec(),
            at,
        }));
    }
}

async fn get(app: &TestApp, user: &TestUser, path: &str) -> Value {
    let response = app.get_as(path, &user.access_token).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_whole_org_and_its_only_class_see_the_same_median_and_documents() {
    let app = spawn_app().await;
    let admin = app.register("Rollup school").await;
    let (teacher, sam, kim) =
        (app.invite(&admin, "teacher").await, app.invite(&admin, "student").await, app.invite(&admin, "student").await);
    let body = json!({ "name": "Everyone", "teacher_ids": [teacher.id], "student_ids": [sam.id, kim.id] });
    let class: Value = app.post_as("/api/v1/classes", &admin.access_token, &body).await.json().await.unwrap();
    let class = class["id"].as_str().unwrap().to_owned();
    let tutor: Value =
        app.post_as("/api/v1/personas", &admin.access_token, &json!({ "name": "Tutor" })).await.json().await.unwrap();
    let tutor: Uuid = tutor["id"].as_str().unwrap().parse().unwrap();
    let (doc_a, doc_b) = (Uuid::now_v7(), Uuid::now_v7());
    let t0 = Utc::now() - Duration::hours(3);

    // Lengths 30 s, 45 s, 90 s, 200 s and one that grows from 60 s to 10 min in a later batch.
    let mut growing = None;
    for (user, seconds, offset) in [(&sam, 30, 0), (&kim, 45, 10), (&sam, 90, 20), (&kim, 200, 30), (&sam, 60, 40)] {
        let start = t0 + Duration::minutes(offset);
        let session = Session::start(&app, user, tutor, start);
        session.turn(&app, start, &[doc_a]);
        session.turn(&app, start + Duration::seconds(seconds), &[doc_a, doc_b]);
        growing = Some((session, start));
    }
    app.analytics.flush().await;
    let org = get(&app, &admin, "/api/v1/analytics/overview").await;
    // 30, 45, 60, 90, 200: the middle is 60.
    assert_eq!(org["totals"]["median_session_seconds"], 60.0, "{org}");

    let (session, start) = growing.unwrap();
    session.turn(&app, start + Duration::minutes(10), &[doc_b]);
    app.analytics.flush().await;

    let org = get(&app, &admin, "/api/v1/analytics/overview").await;
    let scoped = get(&app, &admin, &format!("/api/v1/analytics/overview?class_id={class}")).await;
    // 30, 45, 90, 200, 600: the middle is 90, from the histogram and from the sessions alike.
    assert_eq!(org["totals"]["median_session_seconds"], 90.0, "{org}");
    assert_eq!(scoped["totals"]["median_session_seconds"], 90.0, "{scoped}");
    let documents = |overview: &Value| -> Vec<(String, u64)> {
        let rows = overview["top_documents"].as_array().unwrap();
        rows.iter().map(|d| (d["id"].as_str().unwrap().to_owned(), d["citations"].as_u64().unwrap())).collect()
    };
    assert_eq!(documents(&org), vec![(doc_a.to_string(), 10), (doc_b.to_string(), 6)]);
    assert_eq!(documents(&org), documents(&scoped));
    let tutor_page = get(&app, &admin, &format!("/api/v1/analytics/personas/{tutor}")).await;
    assert_eq!(tutor_page["top_documents"], org["top_documents"], "{tutor_page}");
}

#[tokio::test]
async fn the_migration_fills_the_org_rollups_from_recorded_history() {
    let app = spawn_app().await;
    let admin = app.register("History school").await;
    let student = app.invite(&admin, "student").await;
    let tutor = Uuid::now_v7();
    let start = Utc::now() - Duration::hours(2);
    for seconds in [20, 40, 1_000] {
        let session = Session::start(&app, &student, tutor, start);
        session.turn(&app, start, &[tutor]);
        session.turn(&app, start + Duration::seconds(seconds), &[]);
    }
    app.analytics.flush().await;

    // As a database recorded before the rollups existed: without them, then migrated.
    let db = &app.backends.db;
    // Every migration after the analytics tables (the ninth) is undone and done again.
    let later = u32::try_from(Migrator::migrations().len() - 9).unwrap();
    Migrator::down(db, Some(later)).await.unwrap();
    Migrator::up(db, None).await.unwrap();
    let sum = |sql: &'static str| async move {
        let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    };
    assert_eq!(sum("SELECT CAST(SUM(sessions) AS BIGINT) FROM analytics_session_lengths").await, 3);
    assert_eq!(sum("SELECT CAST(SUM(citations) AS BIGINT) FROM analytics_document_totals").await, 3);
    let overview = get(&app, &admin, "/api/v1/analytics/overview").await;
    assert_eq!(overview["totals"]["median_session_seconds"], 40.0, "{overview}");
}
