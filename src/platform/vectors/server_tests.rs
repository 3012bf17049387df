#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::super::VectorStore;
use super::super::contract_tests::{self as contract, DIM};
use super::{QdrantVectorStore, from_value, to_value};

/// Runs only against a real server: `TEST_QDRANT_URL=http://localhost:6334` (gRPC port), plus
/// `TEST_QDRANT_API_KEY` if the server needs one. Each run uses (and drops) its own collection.
#[tokio::test]
async fn contract_scenarios_against_server() {
    let Ok(url) = std::env::var("TEST_QDRANT_URL") else {
        eprintln!("TEST_QDRANT_URL not set; skipping the Qdrant server contract test");
        return;
    };
    let api_key = std::env::var("TEST_QDRANT_API_KEY").ok();
    let collection = format!("bwenge_test_{}", uuid::Uuid::new_v4().simple());
    let store = QdrantVectorStore::connect(&url, api_key.as_deref(), &collection).unwrap();
    assert_eq!(store.backend(), "qdrant");
    assert!(store.health().await.is_err(), "collection does not exist yet");

    store.ensure_collection(DIM).await.unwrap();
    store.ensure_collection(DIM).await.unwrap();
    assert!(store.ensure_collection(DIM + 1).await.is_err(), "dimension mismatch is reported");
    contract::run_all(&store).await;

    // A fresh client must learn the dimension from the server for validation.
    let second = QdrantVectorStore::connect(&url, api_key.as_deref(), &collection).unwrap();
    let f = contract::Fixture::new();
    second.upsert(f.points.clone()).await.unwrap();
    assert_eq!(second.count(&super::super::VectorFilter::org(f.org_a)).await.unwrap(), 4);

    store.delete_collection().await.unwrap();
}

#[test]
fn connect_needs_no_server() {
    let store = QdrantVectorStore::connect("http://127.0.0.1:1", None, "c").unwrap();
    assert_eq!(store.collection(), "c");
    assert!(QdrantVectorStore::connect("http://127.0.0.1:1", None, "").is_err());
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    let store = QdrantVectorStore::connect("http://127.0.0.1:1", Some("key"), "c").unwrap();
    let result = store.health().await;
    assert!(matches!(result, Err(super::super::VectorError::Unavailable(_))), "{result:?}");
}

#[test]
fn payload_values_round_trip() {
    let original = json!({
        "text": "ß and ü", "page": 3, "neg": -7, "ratio": 0.25, "ok": true, "none": null,
        "tags": ["a", 1, 2.5], "nested": { "deep": [ { "x": 1 } ] },
    });
    assert_eq!(from_value(to_value(original.clone())), original);
}
