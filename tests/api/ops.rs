use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn healthz_answers_without_touching_backends() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn readyz_reports_every_configured_backend() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    for check in ["database", "storage", "vectors"] {
        assert_eq!(body["checks"][check]["ok"], true, "{check} in {body}");
    }
    let expected_db = if std::env::var("TEST_DATABASE_URL").is_ok() { "postgres" } else { "sqlite" };
    assert_eq!(body["checks"]["database"]["backend"], expected_db);
    assert_eq!(body["checks"]["redis"]["ok"].as_bool(), std::env::var("TEST_REDIS_URL").ok().map(|_| true));
}

#[tokio::test]
async fn readyz_fails_with_details_when_a_backend_is_down() {
    // Port 9 (discard) on loopback: nothing listens, so Redis is configured but unreachable.
    let app = spawn_app_with(|s| s.redis.url = "redis://127.0.0.1:9".to_owned().into()).await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["redis"]["ok"], false);
    assert!(body["checks"]["redis"]["error"].as_str().is_some());
    assert_eq!(body["checks"]["database"]["ok"], true);
}

#[tokio::test]
async fn metrics_are_labelled_by_route_pattern_not_raw_path() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    app.get("/api/v1/no/such/thing/123").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains(r#"bwenge_http_requests_total{method="GET",route="/healthz",status="200"} 1"#), "{text}");
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(!text.contains("/no/such/thing"), "raw paths must not become labels");
    assert!(text.contains("bwenge_http_request_duration_seconds_bucket"));
    assert!(text.contains("bwenge_http_requests_in_flight"));
}

#[tokio::test]
async fn openapi_document_lists_routes_and_the_docs_ui_is_served_offline() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());

    let redirect = app.get("/api/docs").await;
    assert_eq!(redirect.status(), 308);
    let page = app.get("/api/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "docs page: {html}");
    assert!(!html.contains("https://"), "docs page must not load assets from elsewhere");
    let script = app.get("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(script.status(), 200, "UI assets are inside the binary");
}

#[tokio::test]
async fn without_a_model_search_runs_on_bm25_and_readyz_says_so() {
    let app = spawn_app_with(|s| s.embeddings.model_dir = "/nonexistent/model".into()).await;
    let body: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(body["status"], "ready", "the server still serves");
    assert_eq!(body["checks"]["embeddings"]["backend"], "none");
    let warning = body["checks"]["embeddings"]["warning"].as_str().unwrap();
    assert!(warning.contains("BM25-only") && warning.contains("embeddings.fetch is off"), "{body}");
    let teacher = app.register("No model").await;
    let collection = crate::ingest::create_collection(&app, &teacher, "C").await;
    let doc =
        crate::ingest::ingest(&app, &teacher, &collection, "notes.txt", b"Mitochondria make energy.".to_vec()).await;
    assert_eq!(doc["status"], "ready");
    let found: serde_json::Value = app
        .post_as("/api/v1/search", &teacher.access_token, &serde_json::json!({ "query": "mitochondria energy" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["mode"], "sparse");
    assert_eq!(found["results"][0]["document_id"], doc["id"]);
}
