//! `bwenge seed-demo`: a living demo school for a newcomer. An admin, a teacher, a class of three students, a
//! collection of the science notes in `assets/demo/` (public domain, compiled in), a tutor persona with the sample
//! avatar, and a few conversations. Everything after the admin goes through the public API, so the demo is made of
//! exactly what a school would make: through a server running on this data dir, or one started here for the
//! purpose on a loopback port.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::platform::db;

const ORG: &str = "Bwenge Demo School";
pub const ADMIN_EMAIL: &str = "admin@demo.bwenge.test";
const MATERIAL: [(&str, &str); 3] = [
    ("photosynthesis.md", include_str!("../../assets/demo/photosynthesis.md")),
    ("water-cycle.txt", include_str!("../../assets/demo/water-cycle.txt")),
    ("volcanoes.md", include_str!("../../assets/demo/volcanoes.md")),
];
const QUESTIONS: [[&str; 2]; 3] = [
    ["Why do leaves look green?", "What limits how fast photosynthesis goes?"],
    ["What happens during condensation?", "Where does rain water go after it falls?"],
    ["Why do volcanoes erupt?", "Why do some volcanoes erupt explosively?"],
];

/// Seeds the demo; returns the password of its accounts (`BWENGE_DEMO_PASSWORD`, else a random one).
pub async fn seed(settings: &Settings) -> anyhow::Result<String> {
    let password = std::env::var("BWENGE_DEMO_PASSWORD").unwrap_or_else(|_| random_password());
    let database = db::connect(settings).await?;
    db::migrate(&database).await?;
    let request = crate::auth::views::RegisterRequest {
        org_name: ORG.into(),
        email: ADMIN_EMAIL.into(),
        password: password.clone(),
        name: "Amina Admin".into(),
        refresh_in_cookie: false,
    };
    match crate::auth::service::bootstrap_org(&database, request).await {
        Ok(_) => {}
        Err(err) if err.api().code == "email_taken" => {
            bail!("the demo is already seeded: sign in as {ADMIN_EMAIL} with the password printed when it was")
        }
        Err(err) => bail!("{}", err.api().message),
    }
    database.close().await?;

    let running = format!("http://127.0.0.1:{}", settings.server.port);
    if reqwest::get(format!("{running}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
        println!("seeding through the server at {running}");
        return through(&running, &password).await.map(|()| password);
    }
    let mut own = settings.clone();
    own.server.host = "127.0.0.1".into();
    own.server.port = 0;
    let app = crate::Application::build(own).await.context("starting a server to seed through")?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let seeded = through(&base, &password).await;
    let _ = stop.send(());
    serving.await.context("the seeding server")??;
    seeded.map(|()| password)
}

struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self.client.request(method.clone(), format!("{}/api/v1{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        ensure!(status.is_success(), "{method} {path} answered {status}: {}", body["message"].as_str().unwrap_or(""));
        Ok(body)
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, token, Some(body)).await
    }

    async fn get(&self, path: &str, token: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, Some(token), None).await
    }

    /// Invites someone with `role`, accepts for them, and returns `(user id, access token)`.
    async fn member(
        &self,
        admin: &str,
        email: &str,
        name: &str,
        role: &str,
        password: &str,
    ) -> anyhow::Result<(String, String)> {
        let invitation = self.post("/invitations", Some(admin), json!({ "email": email, "role": role })).await?;
        let token = invitation["token"].as_str().context("the invitation's token")?;
        let signed_in = self
            .post(&format!("/invitations/{token}/accept"), None, json!({ "name": name, "password": password }))
            .await?;
        let access = signed_in["access_token"].as_str().context("an access token")?.to_owned();
        let me = self.get("/auth/me", &access).await?;
        Ok((me["user"]["id"].as_str().context("the user's id")?.to_owned(), access))
    }
}

async fn through(base: &str, password: &str) -> anyhow::Result<()> {
    let api = Api { base: base.to_owned(), client: reqwest::Client::new() };
    let login = api.post("/auth/login", None, json!({ "email": ADMIN_EMAIL, "password": password })).await?;
    let admin = login["access_token"].as_str().context("the admin's token")?.to_owned();
    let (teacher, _) = api.member(&admin, "teacher@demo.bwenge.test", "Tomas Teacher", "teacher", password).await?;
    let mut students = Vec::new();
    for name in ["Kofi", "Lena", "Maya"] {
        let email = format!("{}@demo.bwenge.test", name.to_lowercase());
        students.push(api.member(&admin, &email, name, "student", password).await?);
    }

    let collection = api
        .post("/collections", Some(&admin), json!({ "name": "Science notes", "description": "Demo material" }))
        .await?;
    let collection = collection["id"].as_str().context("the collection's id")?.to_owned();
    let mut documents = Vec::new();
    for (name, text) in MATERIAL {
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name(name));
        let response = api
            .client
            .post(format!("{base}/api/v1/collections/{collection}/documents"))
            .bearer_auth(&admin)
            .multipart(form)
            .send()
            .await?;
        ensure!(response.status().is_success(), "uploading {name}: {}", response.status());
        documents.push(response.json::<Value>().await?["id"].as_str().context("the document's id")?.to_owned());
    }
    for id in &documents {
        wait_ready(&api, &admin, id).await?;
    }

    let avatars = api.get("/avatars", &admin).await?;
    let avatar = avatars["items"][0]["id"].clone();
    let persona = api
        .post(
            "/personas",
            Some(&admin),
            json!({
                "name": "Ms Nyota",
                "description": "A patient science tutor for Year 8",
                "tone": "warm and encouraging",
                "greeting": "Hello! What would you like to understand today?",
                "collection_ids": [collection],
                "avatar_id": avatar,
            }),
        )
        .await?;
    let persona = persona["id"].as_str().context("the persona's id")?.to_owned();
    let student_ids: Vec<&str> = students.iter().map(|(id, _)| id.as_str()).collect();
    api.post(
        "/classes",
        Some(&admin),
        json!({ "name": "Year 8 Science", "teacher_ids": [teacher], "persona_ids": [persona], "student_ids": student_ids }),
    )
    .await?;
    for ((_, token), questions) in students.iter().zip(QUESTIONS) {
        let session = api.post(&format!("/personas/{persona}/sessions"), Some(token), json!({})).await?;
        let session = session["id"].as_str().context("the session's id")?.to_owned();
        for question in questions {
            api.post(&format!("/sessions/{session}/messages"), Some(token), json!({ "content": question })).await?;
        }
    }
    Ok(())
}

async fn wait_ready(api: &Api, token: &str, id: &str) -> anyhow::Result<()> {
    for _ in 0..1200 {
        let document = api.get(&format!("/documents/{id}"), token).await?;
        match document["status"].as_str() {
            Some("ready") => return Ok(()),
            Some("failed") => bail!("a demo document failed: {}", document["error"]),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    bail!("a demo document was not ready after two minutes")
}

fn random_password() -> String {
    use rand::Rng;
    const WORDS: [&str; 16] = [
        "amber", "basalt", "cedar", "delta", "ember", "fjord", "glacier", "harbor", "island", "jasmine", "kelp",
        "lagoon", "meadow", "nectar", "orchid", "prairie",
    ];
    let mut rng = rand::rng();
    let words: Vec<&str> = (0..4).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect();
    format!("{}-{}", words.join("-"), rng.random_range(10..100))
}
