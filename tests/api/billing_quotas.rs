//! Quotas on every write path: each at its limit and one past it, concurrent sends that cannot overshoot (two
//! app instances on one PostgreSQL when the suite runs on it), a downgrade that keeps the data, the operator's
//! `bwenge plan set`, and refusals and plan changes in the audit log and the analytics events.

use std::process::Command;

use bwenge::billing::{BillingService, Plan};
use bwenge::config::PlanLimits;
use futures_util::future::join_all;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_error, spawn_app_with};
use crate::ingest::upload;

const SMALL: PlanLimits = PlanLimits { personas: 2, messages_per_month: 3, storage_bytes: 2_000, seats: 3 };

async fn small_app() -> TestApp {
    spawn_app_with(|s| s.plans.free = SMALL).await
}

async fn set_plan(app: &TestApp, user: &TestUser, plan: Plan) {
    let billing = BillingService::new(&app.backends).unwrap();
    billing.set_plan(user.org_id.parse().unwrap(), plan).await.unwrap();
}

async fn persona(app: &TestApp, user: &TestUser, name: &str) -> reqwest::Response {
    app.post_as("/api/v1/personas", &user.access_token, &json!({ "name": name })).await
}

async fn session(app: &TestApp, user: &TestUser, persona_id: &str) -> String {
    let created: Value = app
        .post_as(&format!("/api/v1/personas/{persona_id}/sessions"), &user.access_token, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    created["id"].as_str().unwrap_or_else(|| panic!("session: {created}")).to_owned()
}

async fn send(app: &TestApp, user: &TestUser, session: &str) -> reqwest::Response {
    let path = format!("/api/v1/sessions/{session}/messages");
    app.post_as(&path, &user.access_token, &json!({ "content": "What is photosynthesis?" })).await
}

async fn usage(app: &TestApp, admin: &TestUser) -> Value {
    app.get_as("/api/v1/billing/usage", &admin.access_token).await.json().await.unwrap()
}

fn used(usage: &Value, quota: &str) -> i64 {
    let items = usage["items"].as_array().unwrap();
    items.iter().find(|i| i["quota"] == quota).unwrap()["used"].as_i64().unwrap()
}

async fn refused(response: reqwest::Response, quota: &str, used: i64, limit: i64) {
    let body = assert_error(response, 402, "quota_exceeded").await;
    let details = &body["error"]["details"];
    assert_eq!(
        (details["quota"].as_str(), details["used"].as_i64(), details["limit"].as_i64()),
        (Some(quota), Some(used), Some(limit)),
        "{body}"
    );
}

#[tokio::test]
async fn personas_and_messages_stop_at_their_limits() {
    let app = small_app().await;
    let admin = app.register("Small school").await;
    let first: Value = persona(&app, &admin, "One").await.json().await.unwrap();
    assert_eq!(persona(&app, &admin, "Two").await.status(), 201);
    refused(persona(&app, &admin, "Three").await, "personas", 2, 2).await;
    let second_id = app.get_as("/api/v1/personas", &admin.access_token).await.json::<Value>().await.unwrap()["items"]
        [1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.delete_as(&format!("/api/v1/personas/{second_id}"), &admin.access_token).await.status(), 204);
    assert_eq!(persona(&app, &admin, "Three").await.status(), 201, "a deleted tutor frees its place");

    let tutor = first["id"].as_str().unwrap();
    for n in 0..3 {
        let chat = session(&app, &admin, tutor).await;
        assert_eq!(send(&app, &admin, &chat).await.status(), 200, "message {n}");
    }
    let chat = session(&app, &admin, tutor).await;
    refused(send(&app, &admin, &chat).await, "messages_per_month", 3, 3).await;
    let now = usage(&app, &admin).await;
    assert_eq!((used(&now, "messages_per_month"), used(&now, "personas")), (3, 2), "{now}");
    assert_eq!(now["month"], chrono::Utc::now().format("%Y-%m").to_string());

    set_plan(&app, &admin, Plan::Enterprise).await;
    assert_eq!(send(&app, &admin, &chat).await.status(), 200, "unlimited after the upgrade");
}

#[tokio::test]
async fn storage_is_checked_before_the_upload_and_settled_after() {
    let app = small_app().await;
    let admin = app.register("Storage school").await;
    let collection: Value = app
        .post_as("/api/v1/collections", &admin.access_token, &json!({ "name": "Notes" }))
        .await
        .json()
        .await
        .unwrap();
    let collection = collection["id"].as_str().unwrap().to_owned();
    let notes = "Rivers carve valleys over long ages. ".repeat(25); // 925 bytes
    let stored = upload(&app, &admin, &collection, "rivers.txt", notes.as_bytes().to_vec()).await;
    assert_eq!(stored.status(), 202);
    let stored: Value = stored.json().await.unwrap();
    assert_eq!(used(&usage(&app, &admin).await, "storage_bytes"), 925, "settled to the file, not the request");

    let big = "Glaciers move slowly downhill. ".repeat(40); // 1,240 bytes: over the 1,075 left
    let response = upload(&app, &admin, &collection, "glaciers.txt", big.into_bytes()).await;
    let body = assert_error(response, 402, "quota_exceeded").await;
    assert_eq!(body["error"]["details"]["quota"], "storage_bytes");
    assert_eq!(used(&usage(&app, &admin).await, "storage_bytes"), 925, "a refusal takes nothing");

    let doc = stored["id"].as_str().unwrap();
    assert_eq!(app.delete_as(&format!("/api/v1/documents/{doc}"), &admin.access_token).await.status(), 204);
    assert_eq!(used(&usage(&app, &admin).await, "storage_bytes"), 0, "a deleted document frees its bytes");
}

#[tokio::test]
async fn seats_limit_invitations_and_their_acceptance() {
    let app = small_app().await;
    let admin = app.register("Seat school").await;
    app.invite(&admin, "teacher").await; // seat 2
    // Two invitations fit while one seat is left; only the first accepted takes it.
    let invite = |email: &str| json!({ "email": email, "role": "student" });
    let token = admin.access_token.clone();
    let a: Value = app.post_as("/api/v1/invitations", &token, &invite("a@example.org")).await.json().await.unwrap();
    let b: Value = app.post_as("/api/v1/invitations", &token, &invite("b@example.org")).await.json().await.unwrap();
    let body = json!({ "name": "Student", "password": crate::helpers::PASSWORD });
    let accept = |invitation: &Value| format!("/api/v1/invitations/{}/accept", invitation["token"].as_str().unwrap());
    assert_eq!(app.post_json(&accept(&a), &body).await.status(), 201);
    refused(app.post_json(&accept(&b), &body).await, "seats", 3, 3).await;
    refused(app.post_as("/api/v1/invitations", &token, &invite("c@example.org")).await, "seats", 3, 3).await;
    assert_eq!(used(&usage(&app, &admin).await, "seats"), 3);
}

#[tokio::test]
async fn concurrent_sends_at_the_limit_cannot_overshoot() {
    let limits = PlanLimits { messages_per_month: 5, ..SMALL };
    // Replicas share the token signing key, as a deployment configures them.
    let key = "a replica-shared signing key of at least 32 bytes".to_owned();
    let jwt = key.clone();
    let app = spawn_app_with(move |s| {
        s.plans.free = limits;
        s.auth.jwt_secret = jwt.into();
    })
    .await;
    // On PostgreSQL a second instance shares the database: the limit holds across replicas.
    let database = app.settings.database.url.clone();
    let shared = std::env::var("TEST_DATABASE_URL").is_ok();
    let other = if shared {
        spawn_app_with(move |s| {
            s.plans.free = limits;
            s.database.url = database;
            s.auth.jwt_secret = key.into();
        })
        .await
    } else {
        small_app().await
    };
    let admin = app.register("Busy school").await;
    let tutor: Value = persona(&app, &admin, "Tutor").await.json().await.unwrap();
    let tutor = tutor["id"].as_str().unwrap().to_owned();
    let mut sessions = Vec::new();
    for _ in 0..12 {
        sessions.push(session(&app, &admin, &tutor).await);
    }
    let sends = sessions.iter().enumerate().map(|(n, chat)| {
        let instance = if shared && n % 2 == 1 { &other } else { &app };
        send(instance, &admin, chat)
    });
    let statuses: Vec<u16> = join_all(sends).await.iter().map(|r| r.status().as_u16()).collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 402).count();
    assert_eq!((ok, refused), (5, 7), "{statuses:?}");
    assert_eq!(used(&usage(&app, &admin).await, "messages_per_month"), 5);
}

#[tokio::test]
async fn a_downgrade_keeps_the_data_and_makes_what_is_over_the_limit_read_only() {
    let app = small_app().await;
    let admin = app.register("Shrinking school").await;
    set_plan(&app, &admin, Plan::Pro).await;
    let mut ids = Vec::new();
    for name in ["One", "Two", "Three"] {
        let created: Value = persona(&app, &admin, name).await.json().await.unwrap();
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    set_plan(&app, &admin, Plan::Free).await;

    let listed: Value = app.get_as("/api/v1/personas", &admin.access_token).await.json().await.unwrap();
    assert_eq!(listed["total"], 3, "nothing deleted: {listed}");
    let path = format!("/api/v1/personas/{}", ids[0]);
    assert_eq!(app.get_as(&path, &admin.access_token).await.status(), 200);
    refused(persona(&app, &admin, "Four").await, "personas", 3, 2).await;
    let rename = app.patch_as(&path, &admin.access_token, &json!({ "name": "Renamed" })).await;
    refused(rename, "personas", 3, 2).await;
    assert_eq!(app.delete_as(&format!("/api/v1/personas/{}", ids[2]), &admin.access_token).await.status(), 204);
    let rename = app.patch_as(&path, &admin.access_token, &json!({ "name": "Renamed" })).await;
    assert_eq!(rename.status(), 200, "back within the limit, tutors can be changed again");

    // The refusals and the plan changes are in the audit log and the analytics events.
    let audit: Value = app.get_as("/api/v1/audit?per_page=100", &admin.access_token).await.json().await.unwrap();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"plan.changed") && actions.contains(&"quota.refused"), "{actions:?}");
    app.analytics.flush().await;
    let db = &app.backends.db;
    let sql = format!(
        "SELECT kind FROM analytics_events WHERE kind IN ('plan_changed', 'quota_hit') AND org_id = {}",
        org_literal(db, &admin.org_id)
    );
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    let kinds: Vec<String> = rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect();
    assert!(kinds.contains(&"plan_changed".into()) && kinds.contains(&"quota_hit".into()), "{kinds:?}");
}

/// An org id as a SQL literal on either database (SQLite stores UUIDs as 16-byte blobs).
fn org_literal(db: &sea_orm::DatabaseConnection, org: &str) -> String {
    match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => format!("X'{}'", org.replace('-', "")),
        _ => format!("'{org}'"),
    }
}

#[tokio::test]
async fn the_operator_sets_a_plan_from_the_command_line() {
    let app = small_app().await;
    let admin = app.register("Arranged school").await;
    let database = secrecy::ExposeSecret::expose_secret(&app.settings.database.url).to_owned();
    let plan_set = |org: &str, plan: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bwenge"));
        command.args(["plan", "set", "--org", org, "--plan", plan, "--data-dir"]).arg(&app.settings.server.data_dir);
        command.env_remove("BWENGE__DATABASE__URL");
        if database.is_empty() {
            command.env_remove("DATABASE_URL");
        } else {
            command.env("DATABASE_URL", &database);
        }
        command.output().expect("binary runs")
    };
    let output = plan_set(&admin.org_id, "pro");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("is on the pro plan (was free)"));
    let current: Value = app.get_as("/api/v1/billing/subscription", &admin.access_token).await.json().await.unwrap();
    assert_eq!(current["plan"], "pro");
    assert!(!plan_set(&admin.org_id, "gold").status.success(), "an unknown plan");
    let nobody = uuid::Uuid::now_v7().to_string();
    let output = plan_set(&nobody, "pro");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no organisation"));
}
