//! `spawn_app()`: the real application on port 0 with a fresh data dir, and a fresh database per test.
//! With `TEST_DATABASE_URL` each test gets its own Postgres database; with `TEST_REDIS_URL` the Redis
//! implementations are used (keys under a per-test prefix); with `TEST_QDRANT_URL` a Qdrant server.

use std::sync::LazyLock;

use bwenge::Application;
use bwenge::config::{self, Settings};
use bwenge::platform::Backends;
use bwenge::platform::jobs::JobRegistry;
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
    pub backends: Backends,
    /// Every domain's job handlers, for tests that run a worker of their own.
    pub jobs: std::sync::Arc<JobRegistry>,
    pub settings: Settings,
    pub analytics: bwenge::analytics::AnalyticsService,
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
    // Tests sign up many organisations from one address; the limit has its own test.
    settings.ratelimit.register_per_ip_per_hour = 10_000;
    // The real embedding model when the machine has it (`.ci/run` fetches it); without it the app runs
    // BM25-only, which the tests also cover. Only the fetch's own tests download it.
    settings.embeddings.fetch = false;
    let model =
        std::env::var("BWENGE_TEST_MODEL_DIR").unwrap_or_else(|_| "/var/tmp/bwenge-model/all-MiniLM-L6-v2".into());
    if std::path::Path::new(&model).join("model.safetensors").exists() {
        settings.embeddings.model_dir = model;
    }
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
    let mut settings = test_settings(&test_data_dir()).await;
    customize(&mut settings);
    // Boxed: every test awaits this, and the app's start-up future is large for a debug test thread's stack.
    Box::pin(spawn_app_on(settings)).await
}

/// An app on exactly these settings (a second app on the same backends, or one on a restored data dir).
pub async fn spawn_app_on(settings: Settings) -> TestApp {
    LazyLock::force(&TRACING);
    let app = Application::build(settings.clone()).await.expect("application builds");
    let port = app.port();
    let (backends, jobs, analytics) = (app.backends(), app.job_registry(), app.analytics());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        backends,
        jobs,
        settings,
        analytics,
    }
}

/// A safety alert for `admin`: a high-severity message in their own session notifies every admin (none is
/// designated); the flag is raised after the turn, so this waits for it.
async fn seed_alert(app: &TestApp, admin: &TestUser, session: &str) -> String {
    let asked = app
        .post_as(
            &format!("/api/v1/sessions/{session}/messages"),
            &admin.access_token,
            &serde_json::json!({ "content": "I want to hurt myself" }),
        )
        .await;
    assert_eq!(asked.status(), 200, "seed message");
    for _ in 0..200 {
        let alerts: serde_json::Value =
            app.get_as("/api/v1/alerts", &admin.access_token).await.json().await.expect("alerts");
        if let Some(id) = alerts["items"][0]["id"].as_str() {
            return id.to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the seeded flag raised no alert");
}

/// A new, empty database on the server `TEST_DATABASE_URL` points at; tests never share one.
pub async fn fresh_postgres_database(base_url: &str) -> String {
    let name = format!("bwenge_test_{}", Uuid::new_v4().simple());
    let admin = Database::connect(base_url).await.expect("TEST_DATABASE_URL reachable");
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create test database");
    admin.close().await.expect("close admin connection");
    let mut url = url::Url::parse(base_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

impl TestApp {
    /// Whether the app runs the local embedding model (hybrid search), not BM25 alone.
    pub fn has_embeddings(&self) -> bool {
        self.backends.embeddings.is_some()
    }

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

pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-in person of a test org.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApp {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, None, Some(body)).await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, Some(token), None).await
    }

    pub async fn post_as(&self, path: &str, token: &str, body: &serde_json::Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch_as(&self, path: &str, token: &str, body: &serde_json::Value) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.send(reqwest::Method::DELETE, path, Some(token), None).await
    }

    /// Registers a new org and returns its admin, signed in.
    pub async fn register(&self, org: &str) -> TestUser {
        let email = format!("admin-{}@{}.example.org", Uuid::new_v4().simple(), org.to_lowercase().replace(' ', "-"));
        let response = self
            .post_json(
                "/api/v1/auth/register",
                &serde_json::json!({ "org_name": org, "email": email, "password": PASSWORD, "name": "Ada Admin" }),
            )
            .await;
        assert_eq!(response.status(), 201, "register: {}", response.text().await.unwrap_or_default());
        self.signed_in(email, response.json().await.expect("token body")).await
    }

    /// Invites `role` into `admin`'s org, accepts, and returns the new user, signed in.
    pub async fn invite(&self, inviter: &TestUser, role: &str) -> TestUser {
        let email = format!("{role}-{}@example.org", Uuid::new_v4().simple());
        let invite = self
            .post_as("/api/v1/invitations", &inviter.access_token, &serde_json::json!({ "email": email, "role": role }))
            .await;
        assert_eq!(invite.status(), 201, "invite: {}", invite.text().await.unwrap_or_default());
        let token =
            invite.json::<serde_json::Value>().await.expect("invitation")["token"].as_str().expect("token").to_owned();
        let accepted = self
            .post_json(
                &format!("/api/v1/invitations/{token}/accept"),
                &serde_json::json!({ "name": format!("A {role}"), "password": PASSWORD }),
            )
            .await;
        assert_eq!(accepted.status(), 201, "accept: {}", accepted.text().await.unwrap_or_default());
        self.signed_in(email, accepted.json().await.expect("token body")).await
    }

    async fn signed_in(&self, email: String, tokens: serde_json::Value) -> TestUser {
        let access_token = tokens["access_token"].as_str().expect("access token").to_owned();
        let me: serde_json::Value = self.get_as("/api/v1/auth/me", &access_token).await.json().await.expect("me");
        TestUser {
            id: me["user"]["id"].as_str().expect("user id").to_owned(),
            org_id: me["org"]["id"].as_str().expect("org id").to_owned(),
            email,
            access_token,
            refresh_token: tokens["refresh_token"].as_str().expect("refresh token").to_owned(),
        }
    }
}

/// One object of every org-owned kind in `admin`'s org, keyed by the path segment its id follows in the API
/// (`/users/{id}` → "users"). Tests that walk the OpenAPI route list fill ids from it; a domain that adds
/// routes adds its objects here.
pub async fn seed_org(app: &TestApp, admin: &TestUser) -> std::collections::HashMap<&'static str, String> {
    let teacher = app.invite(admin, "teacher").await;
    let key: serde_json::Value = app
        .post_as("/api/v1/api-keys", &admin.access_token, &serde_json::json!({ "name": "seed", "scope": "read" }))
        .await
        .json()
        .await
        .expect("api key");
    let collection: serde_json::Value = app
        .post_as("/api/v1/collections", &admin.access_token, &serde_json::json!({ "name": "Seeded" }))
        .await
        .json()
        .await
        .expect("collection");
    let collection_id = collection["id"].as_str().expect("collection id").to_owned();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"Seeded notes about photosynthesis.".to_vec()).file_name("seed.txt"),
    );
    let document: serde_json::Value = app
        .client
        .post(app.url(&format!("/api/v1/collections/{collection_id}/documents")))
        .bearer_auth(&admin.access_token)
        .multipart(form)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("document");
    let persona: serde_json::Value = app
        .post_as(
            "/api/v1/personas",
            &admin.access_token,
            &serde_json::json!({ "name": "Seeded tutor", "collection_ids": [collection_id] }),
        )
        .await
        .json()
        .await
        .expect("persona");
    let persona_id = persona["id"].as_str().unwrap_or_else(|| panic!("persona: {persona}")).to_owned();
    let session: serde_json::Value = app
        .post_as(&format!("/api/v1/personas/{persona_id}/sessions"), &admin.access_token, &serde_json::json!({}))
        .await
        .json()
        .await
        .expect("session");
    let invitation: serde_json::Value = app
        .post_as(
            "/api/v1/invitations",
            &admin.access_token,
            &serde_json::json!({ "email": format!("seed-{}@example.org", Uuid::new_v4().simple()), "role": "student" }),
        )
        .await
        .json()
        .await
        .expect("invitation");
    let avatars: serde_json::Value =
        app.get_as("/api/v1/avatars", &admin.access_token).await.json().await.expect("avatars");
    let avatar_id = avatars["items"][0]["id"].as_str().unwrap_or_else(|| panic!("the sample avatar: {avatars}"));
    let class: serde_json::Value = app
        .post_as(
            "/api/v1/classes",
            &admin.access_token,
            &serde_json::json!({ "name": "Seeded class", "teacher_ids": [teacher.id], "persona_ids": [persona_id] }),
        )
        .await
        .json()
        .await
        .expect("class");
    let student = app.invite(admin, "student").await;
    let alert = seed_alert(app, admin, session["id"].as_str().expect("session id")).await;
    std::collections::HashMap::from([
        ("students", student.id),
        ("alerts", alert),
        ("classes", class["id"].as_str().unwrap_or_else(|| panic!("class: {class}")).to_owned()),
        ("avatars", avatar_id.to_owned()),
        ("users", teacher.id),
        ("invitations", invitation["id"].as_str().unwrap_or_else(|| panic!("invitation: {invitation}")).to_owned()),
        ("personas", persona_id),
        ("sessions", session["id"].as_str().unwrap_or_else(|| panic!("session: {session}")).to_owned()),
        ("api-keys", key["id"].as_str().expect("key id").to_owned()),
        ("collections", collection_id),
        ("documents", document["id"].as_str().expect("document id").to_owned()),
    ])
}
