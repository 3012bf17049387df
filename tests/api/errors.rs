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
    // actix answers an unrouted method on a known path as 404 unless the resource lists methods.
    let status = response.status().as_u16();
    assert!(status == 404 || status == 405, "status {status}");
    let code = if status == 405 { "method_not_allowed" } else { "not_found" };
    assert_error(response, status, code).await;
}

#[tokio::test]
async fn request_ids_differ_per_request() {
    let app = spawn_app().await;
    let a = app.get("/healthz").await.headers()["x-request-id"].to_str().unwrap().to_owned();
    let b = app.get("/healthz").await.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(a, b);
    assert!(uuid::Uuid::parse_str(&a).is_ok());
}
