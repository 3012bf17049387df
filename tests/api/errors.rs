//! Every error, ours or actix's, leaves in one shape with the request id.

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn unknown_route_is_404_in_the_error_shape() {
    let app = spawn_app().await;
    assert_error(app.get("/api/v1/nothing-here").await, 404, "not_found").await;
    assert_error(app.get("/nothing-here").await, 404, "not_found").await;
}

#[tokio::test]
async fn wrong_method_is_405_in_the_error_shape() {
    let app = spawn_app().await;
    let response = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert_error(response, 405, "method_not_allowed").await;
    let response = app.client.delete(app.url("/api/v1/auth/login")).send().await.unwrap();
    assert_error(response, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn request_ids_differ_per_request() {
    let app = spawn_app().await;
    let a = app.get("/healthz").await.headers()["x-request-id"].to_str().unwrap().to_owned();
    let b = app.get("/healthz").await.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(a, b);
    assert!(uuid::Uuid::parse_str(&a).is_ok());
}

#[tokio::test]
async fn malformed_json_is_400_and_wrong_types_are_422() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": \"a@b.c\", ")
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "malformed_json").await;
    let wrong_type = app.post_json("/api/v1/auth/login", &serde_json::json!({ "email": 42, "password": [] })).await;
    assert_error(wrong_type, 422, "invalid_body").await;
    let not_json = app.client.post(app.url("/api/v1/auth/login")).body("email=a").send().await.unwrap();
    assert_error(not_json, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn oversized_json_is_413() {
    let app = crate::helpers::spawn_app_with(|s| s.server.max_json_bytes = 1024).await;
    let big = "x".repeat(4096);
    let response = app.post_json("/api/v1/auth/login", &serde_json::json!({ "email": big, "password": "p" })).await;
    assert_error(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn missing_or_malformed_token_is_401() {
    let app = spawn_app().await;
    assert_error(app.get("/api/v1/auth/me").await, 401, "missing_token").await;
    let basic = app.client.get(app.url("/api/v1/auth/me")).header("authorization", "Basic abc").send().await.unwrap();
    let body = assert_error(basic, 401, "unsupported_auth_scheme").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("Bearer"), "{body}");
    let empty = app.client.get(app.url("/api/v1/auth/me")).header("authorization", "Bearer ").send().await.unwrap();
    assert_error(empty, 401, "missing_token").await;
    assert_error(app.get_as("/api/v1/auth/me", "not-a-jwt").await, 401, "invalid_token").await;
    assert_error(app.get_as("/api/v1/users", "bwk_not-a-key").await, 401, "invalid_token").await;
}

#[tokio::test]
async fn a_bad_path_id_is_a_clear_400() {
    let app = spawn_app().await;
    let admin = app.register("Paths").await;
    assert_error(app.get_as("/api/v1/users/not-a-uuid", &admin.access_token).await, 400, "invalid_path").await;
    assert_error(app.get_as("/api/v1/users?page=abc", &admin.access_token).await, 400, "invalid_query").await;
}

#[tokio::test]
async fn page_numbers_out_of_range_are_refused_not_crashed_on() {
    let app = spawn_app().await;
    let admin = app.register("Pages").await;
    for path in ["/api/v1/sessions", "/api/v1/collections", "/api/v1/users", "/api/v1/personas", "/api/v1/audit"] {
        for query in ["page=9223372036854775806", "page=0", "per_page=101", "per_page=0"] {
            let response = app.get_as(&format!("{path}?{query}"), &admin.access_token).await;
            assert_error(response, 422, "out_of_range").await;
        }
        let fine = app.get_as(&format!("{path}?page=1000000&per_page=100"), &admin.access_token).await;
        assert_eq!(fine.status(), 200, "{path}");
    }
}
