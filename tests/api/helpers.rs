//! `spawn_app()`: the real application on port 0 with a fresh data dir, and a fresh database per test.
//! With `TEST_DATABASE_URL` each test gets its own Postgres database; with `TEST_REDIS_URL` the Redis
//! implementations are used (keys under a per-test prefix); with `TEST_QDRANT_URL` a Qdrant server.

use std::sync::LazyLock;

use actix_web::web;
use bwenge::config::{self, Settings};
use bwenge::{AppState, Application};
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;
use std::path::PathBuf;
use uuid::Uuid;

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        bwenge::platform::telemetry::init(&config::LogSettings {
            format: config::LogFormat::Pretty,
            level: "debug".into(),
        });
    }
});

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: web::Data<AppState>,
    pub settings: Settings,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A data dir that outlives the test's app: the server task (and the vector engine, which flushes when
/// dropped) ends with the test's runtime, after the test body. `.ci/run` clears the parent folder.
pub fn test_data_dir() -> PathBuf {
    let dir = std::env::temp_dir().join("bwenge-tests").join(Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&dir).expect("test data dir");
    dir
}

/// Test settings: embedded defaults in a temp dir, plus the backends the environment names.
pub async fn test_settings(data_dir: &std::path::Path) -> Settings {
    let mut settings = config::defaults(data_dir).expect("defaults parse");
    settings.server.port = 0;
    settings.server.host = "127.0.0.1".into();
    settings.jobs.poll_interval_ms = 50;
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        settings.database.url = SecretString::from(fresh_postgres_database(&url).await);
        settings.database.max_connections = 5;
    }
    if let Ok(url) = std::env::var("TEST_REDIS_URL") {
        settings.redis.url = SecretString::from(url);
        settings.redis.prefix = format!("test-{}", Uuid::new_v4().simple());
    }
    if let Ok(url) = std::env::var("TEST_QDRANT_URL") {
        settings.vectors.url = url;
        settings.vectors.collection = format!("test_{}", Uuid::new_v4().simple());
    }
    settings
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&TRACING);
    let mut settings = test_settings(&test_data_dir()).await;
    customize(&mut settings);
    let app = Application::build(settings.clone()).await.expect("application builds");
    let port = app.port();
    let state = app.state();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        state,
        settings,
    }
}

/// A new, empty database on the server `TEST_DATABASE_URL` points at; tests never share one.
async fn fresh_postgres_database(base_url: &str) -> String {
    let name = format!("bwenge_test_{}", Uuid::new_v4().simple());
    let admin = Database::connect(base_url).await.expect("TEST_DATABASE_URL reachable");
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create test database");
    admin.close().await.expect("close admin connection");
    let mut url = url::Url::parse(base_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }
}

/// Asserts the response is our error shape with `code`, and that its request id matches the header.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let header_id =
        response.headers().get("x-request-id").expect("x-request-id header").to_str().expect("ascii id").to_owned();
    let body: serde_json::Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], code, "error code in {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "message in {body}");
    assert_eq!(body["error"]["request_id"], header_id.as_str(), "request id in body matches header");
    body
}
