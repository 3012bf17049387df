//! Analytics at scale, on this machine: prints numbers, asserts nothing about speed.
//!
//! 1. The overview (`GET /analytics/overview`, 28 days, the whole org) over 1,000,000 recorded events, through
//!    HTTP, on SQLite and, with `BENCH_DATABASE_URL=postgres://…`, on PostgreSQL. Aim: under 200 ms.
//! 2. A chat turn (JSON, extractive tutor over a small collection) with analytics recording on and off,
//!    interleaved. Aim: on within 5% of off.
//!
//!     cargo bench --bench analytics [-- EVENTS]        (default 1000000)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bwenge::analytics::Activity;
use bwenge::app::Application;
use bwenge::chat::views::ChatActivity;
use bwenge::config::{self, Settings};
use chrono::Utc;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

const STUDENTS: usize = 300;
const PERSONAS: usize = 6;
const DAYS: i64 = 28;

struct Running {
    base: String,
    token: String,
    org: Uuid,
    app_analytics: bwenge::analytics::AnalyticsService,
    client: reqwest::Client,
}

async fn start(mut settings: Settings) -> Running {
    settings.server.port = 0;
    settings.server.host = "127.0.0.1".into();
    settings.log.level = "warn".into();
    settings.ratelimit.api_per_user_per_minute = 10_000_000;
    settings.ratelimit.api_per_org_per_minute = 10_000_000;
    let app = Application::build(settings).await.expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let analytics = app.analytics();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let client = reqwest::Client::new();
    let email = format!("bench-{}@example.org", Uuid::new_v4().simple());
    let registered: Value = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({ "org_name": "Bench school", "email": email, "password": "correct horse battery", "name": "Bench" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = registered["access_token"].as_str().expect("registered").to_owned();
    let me: Value =
        client.get(format!("{base}/api/v1/auth/me")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let org = me["org"]["id"].as_str().unwrap().parse().unwrap();
    Running { base, token, org, app_analytics: analytics, client }
}

fn settings(dir: &std::path::Path, database: Option<&str>, record: bool) -> Settings {
    let mut settings = config::defaults(dir).expect("defaults");
    settings.embeddings.fetch = false;
    let model =
        std::env::var("BWENGE_TEST_MODEL_DIR").unwrap_or_else(|_| "/var/tmp/bwenge-model/all-MiniLM-L6-v2".into());
    if std::path::Path::new(&model).join("model.safetensors").exists() {
        settings.embeddings.model_dir = model;
    }
    if let Some(url) = database {
        settings.database.url = SecretString::from(url.to_owned());
    }
    settings.analytics.record = record;
    settings
}

/// Sessions of 4 questions and answers each (one in 8 not covered), spread over the last 28 days.
async fn fill(run: &Running, events: usize) -> Duration {
    let started = Instant::now();
    let students: Vec<Uuid> = (0..STUDENTS).map(|_| Uuid::now_v7()).collect();
    let personas: Vec<Uuid> = (0..PERSONAS).map(|_| Uuid::now_v7()).collect();
    let documents: Vec<Uuid> = (0..40).map(|_| Uuid::now_v7()).collect();
    let now = Utc::now();
    let (mut sent, mut session_n) = (0usize, 0usize);
    while sent < events {
        session_n += 1;
        let user_id = students[session_n % STUDENTS];
        let persona_id = personas[session_n % PERSONAS];
        let session_id = Uuid::now_v7();
        let mut at = now - chrono::Duration::minutes((session_n as i64 * 7919) % (DAYS * 24 * 60));
        let org_id = run.org;
        run.app_analytics.record(Activity::Chat(ChatActivity::SessionStarted {
            org_id,
            user_id,
            session_id,
            persona_id,
            at,
        }));
        sent += 1;
        for q in 0..4 {
            let message_id = Uuid::now_v7();
            run.app_analytics.record(Activity::Chat(ChatActivity::MessageSent {
                org_id,
                user_id,
                session_id,
                persona_id,
                message_id,
                text: format!("question {q} about topic {}", session_n % 50),
                at,
            }));
            at += chrono::Duration::seconds(40);
            let not_covered = (session_n + q) % 8 == 0;
            run.app_analytics.record(Activity::Chat(ChatActivity::AnswerCompleted {
                org_id,
                user_id,
                session_id,
                persona_id,
                question_id: message_id,
                message_id: Uuid::now_v7(),
                answered_by: if not_covered { "not_covered" } else { "model" }.into(),
                status: "complete".into(),
                latency_ms: 900,
                tokens: Some(300),
                documents: if not_covered { vec![] } else { vec![documents[(session_n + q) % documents.len()]] },
                at,
            }));
            sent += 2 + usize::from(not_covered);
        }
        // The writer's queue is bounded (events beyond it are dropped, by design): let it drain.
        if session_n % 5_000 == 0 {
            run.app_analytics.flush().await;
        }
    }
    run.app_analytics.flush().await;
    started.elapsed()
}

async fn time_overview(run: &Running, runs: usize) -> Vec<f64> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let response = run
            .client
            .get(format!("{}/api/v1/analytics/overview", run.base))
            .bearer_auth(&run.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert!(body["totals"]["messages"].as_u64().unwrap() > 0);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn overview(label: &str, database: Option<&str>, events: usize) {
    let dir = tempfile::tempdir().unwrap();
    let run = start(settings(dir.path(), database, true)).await;
    let filled = fill(&run, events).await;
    let times = time_overview(&run, 20).await;
    println!(
        "overview over {events} events on {label}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms (recording took {:.1} s, {:.0} events/s)",
        pct(&times, 0.5),
        pct(&times, 0.95),
        pct(&times, 1.0),
        filled.as_secs_f64(),
        events as f64 / filled.as_secs_f64()
    );
}

/// A collection, a tutor and a session; returns the messages URL of the session.
async fn tutor(run: &Running) -> String {
    let post = |path: String, body: Value| {
        run.client.post(format!("{}{path}", run.base)).bearer_auth(&run.token).json(&body).send()
    };
    let collection: Value =
        post("/api/v1/collections".into(), json!({ "name": "Bench" })).await.unwrap().json().await.unwrap();
    let id = collection["id"].as_str().unwrap();
    let text = "Photosynthesis is how green plants make sugar. Chlorophyll in the leaves captures light energy, \
                which splits water and releases oxygen. The sugar feeds the plant and, through food webs, animals.";
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name("plants.txt"));
    let document: Value = run
        .client
        .post(format!("{}/api/v1/collections/{id}/documents", run.base))
        .bearer_auth(&run.token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let doc = document["id"].as_str().unwrap();
    for _ in 0..600 {
        let state: Value = run
            .client
            .get(format!("{}/api/v1/documents/{doc}", run.base))
            .bearer_auth(&run.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if state["status"] == "ready" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let persona: Value = post("/api/v1/personas".into(), json!({ "name": "Bench tutor", "collection_ids": [id] }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session: Value = post(format!("/api/v1/personas/{}/sessions", persona["id"].as_str().unwrap()), json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    format!("{}/api/v1/sessions/{}/messages", run.base, session["id"].as_str().unwrap())
}

async fn turn(run: &Running, url: &str) -> f64 {
    let started = Instant::now();
    let response = run
        .client
        .post(url)
        .bearer_auth(&run.token)
        .json(&json!({ "content": "How do plants make sugar?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let _: Value = response.json().await.unwrap();
    started.elapsed().as_secs_f64() * 1000.0
}

async fn chat_turns(turns: usize) {
    let (on_dir, off_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let on = start(settings(on_dir.path(), None, true)).await;
    let off = start(settings(off_dir.path(), None, false)).await;
    let (on_url, off_url) = (tutor(&on).await, tutor(&off).await);
    for _ in 0..20 {
        turn(&on, &on_url).await;
        turn(&off, &off_url).await;
    }
    let (mut with, mut without) = (Vec::new(), Vec::new());
    // Interleaved, so both see the same machine load.
    for _ in 0..turns {
        with.push(turn(&on, &on_url).await);
        without.push(turn(&off, &off_url).await);
    }
    with.sort_by(f64::total_cmp);
    without.sort_by(f64::total_cmp);
    let (a, b) = (pct(&with, 0.5), pct(&without, 0.5));
    println!(
        "chat turn ({turns} each, interleaved): analytics on p50 {a:.2} ms p95 {:.2} ms; off p50 {b:.2} ms p95 {:.2} ms; \
         on/off {:+.1}%",
        pct(&with, 0.95),
        pct(&without, 0.95),
        (a / b - 1.0) * 100.0
    );
}

/// A new database on the server `base` points at, so runs never share one.
async fn fresh_database(base: &str) -> String {
    use sea_orm::ConnectionTrait;
    let name = format!("bwenge_bench_{}", Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(base).await.expect("BENCH_DATABASE_URL reachable");
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create database");
    let mut url = url::Url::parse(base).expect("a URL");
    url.set_path(&name);
    url.to_string()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    overview("SQLite", None, events).await;
    if let Ok(url) = std::env::var("BENCH_DATABASE_URL") {
        overview("PostgreSQL", Some(&fresh_database(&url).await), events).await;
    }
    chat_turns(200).await;
}
