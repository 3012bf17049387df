//! Scale-out, proven with two real `bwenge serve` processes on one PostgreSQL, one Redis, one Qdrant server and
//! one shared file store (a directory standing in for S3): a user signed in on one is served by the other, every
//! job queued runs exactly once whichever replica claims it, a WebSocket client on one sees a session's events from
//! the other, and a document uploaded through one is searchable through the other. Runs when the suite has all
//! three servers (`TEST_DATABASE_URL`, `TEST_REDIS_URL`, `TEST_QDRANT_URL`: `.ci/run`'s second run).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::helpers::{PASSWORD, fresh_postgres_database, test_data_dir};
use crate::process::Replica;

#[tokio::test]
async fn two_serve_processes_share_users_jobs_events_and_documents() {
    let (Ok(database), Ok(redis), Ok(qdrant)) =
        (std::env::var("TEST_DATABASE_URL"), std::env::var("TEST_REDIS_URL"), std::env::var("TEST_QDRANT_URL"))
    else {
        eprintln!("TEST_DATABASE_URL, TEST_REDIS_URL and TEST_QDRANT_URL not all set: the scale-out check needs them");
        return;
    };
    let tag = Uuid::new_v4().simple().to_string();
    let files = test_data_dir().join("shared-objects");
    std::fs::create_dir_all(&files).unwrap();
    let model =
        std::env::var("BWENGE_TEST_MODEL_DIR").unwrap_or_else(|_| "/var/tmp/bwenge-model/all-MiniLM-L6-v2".into());
    let env: Vec<(String, String)> = [
        ("BWENGE__DATABASE__URL", fresh_postgres_database(&database).await),
        ("BWENGE__REDIS__URL", redis),
        ("BWENGE__REDIS__PREFIX", format!("scale-{tag}")),
        ("BWENGE__VECTORS__URL", qdrant),
        ("BWENGE__VECTORS__COLLECTION", format!("scale_{tag}")),
        ("BWENGE__STORAGE__URL", format!("file://{}", files.display())),
        ("BWENGE__AUTH__JWT_SECRET", format!("a shared signing secret for both replicas {tag}")),
        ("BWENGE__ASSETS__SIGNING_SECRET", format!("a shared asset secret for both replicas {tag}")),
        ("BWENGE__EMBEDDINGS__FETCH", "false".into()),
        ("BWENGE__EMBEDDINGS__MODEL_DIR", model),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let a = Replica::start(&env, &test_data_dir());
    // B first migrates the same (already migrated) database: both start against one schema.
    let b = Replica::start(&env, &test_data_dir());

    // Signed in on A, served by B.
    let email = format!("admin-{tag}@scale.example.org");
    let register = json!({ "org_name": "District", "email": email, "password": PASSWORD, "name": "Ada" });
    let token = a.post("/api/v1/auth/register", None, register).await["access_token"].as_str().unwrap().to_owned();
    let me = b.get("/api/v1/auth/me", &token).await;
    assert_eq!(me["user"]["email"], email.as_str(), "{me}");

    // Documents uploaded through both; each ingest job runs once, on whichever replica claimed it.
    let collection = a.post("/api/v1/collections", Some(&token), json!({ "name": "Shared" })).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let topics = [
        "volcanoes erupt when magma rises",
        "rivers carve valleys",
        "glaciers grind mountains",
        "deserts form in rain shadows",
    ];
    let mut ids = Vec::new();
    for (i, topic) in topics.iter().enumerate() {
        let through = if i % 2 == 0 { &a } else { &b };
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(format!("Geography notes. {topic}. More about {topic}.").into_bytes())
                .file_name(format!("notes-{i}.txt")),
        );
        let response = through
            .client
            .post(format!("{}/api/v1/collections/{collection}/documents", through.base))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        ids.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    for (i, id) in ids.iter().enumerate() {
        let watcher = if i % 2 == 0 { &b } else { &a };
        let mut doc = Value::Null;
        for _ in 0..600 {
            doc = watcher.get(&format!("/api/v1/documents/{id}"), &token).await;
            if matches!(doc["status"].as_str(), Some("ready" | "failed")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(doc["status"], "ready", "{doc}");
    }
    // A job is counted when its runner returns, a moment after it marked the document ready.
    let mut runs = 0;
    for _ in 0..100 {
        runs = a.job_runs().await + b.job_runs().await;
        if runs >= topics.len() as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(runs, topics.len() as u64, "every ingest job ran exactly once across the two replicas");

    // Uploaded through A, searchable through B (and the other way round).
    for (searcher, query, expected) in [(&b, "volcanoes magma", "notes-0.txt"), (&a, "rivers valleys", "notes-1.txt")] {
        let found = searcher
            .post("/api/v1/search", Some(&token), json!({ "query": query, "collection_ids": [collection], "top_k": 3 }))
            .await;
        assert_eq!(found["results"][0]["document_name"], expected, "{found}");
    }

    // A WebSocket client on B sees the answer to a question asked on A.
    let persona =
        a.post("/api/v1/personas", Some(&token), json!({ "name": "Geo", "collection_ids": [collection] })).await;
    let session = a
        .post(&format!("/api/v1/personas/{}/sessions", persona["id"].as_str().unwrap()), Some(&token), json!({}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{}/api/v1/chat/ws?token={token}", b.base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("WebSocket on B");
    ws.send(Message::text(json!({ "type": "session.open", "session_id": session }).to_string())).await.unwrap();
    let mut seen = Vec::new();
    let asked = tokio::spawn({
        let (base, token, session) = (a.base.clone(), token.clone(), session.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            reqwest::Client::new()
                .post(format!("{base}/api/v1/sessions/{session}/messages"))
                .bearer_auth(token)
                .json(&json!({ "content": "How do volcanoes erupt?" }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    });
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), ws.next()).await.expect("a frame in time");
        let Message::Text(text) = frame.expect("open").expect("a frame") else { continue };
        let frame: Value = serde_json::from_str(&text).unwrap();
        seen.push(frame["type"].as_str().unwrap_or_default().to_owned());
        if frame["type"] == "answer.done" {
            let answer = asked.await.unwrap();
            assert_eq!(frame["message_id"], answer["message"]["id"], "B relayed A's answer");
            break;
        }
    }
    assert!(seen.contains(&"session.ready".to_owned()) && seen.contains(&"answer.delta".to_owned()), "{seen:?}");
}
