//! Rate limits (in process, or shared through Redis with TEST_REDIS_URL) and browser security headers.

use serde_json::json;

use crate::helpers::{PASSWORD, assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn sign_in_attempts_per_account_are_limited_with_retry_after() {
    let app = spawn_app_with(|s| s.ratelimit.login_per_account_per_15min = 3).await;
    let admin = app.register("Brute force").await;
    for _ in 0..3 {
        let wrong = app
            .post_json("/api/v1/auth/login", &json!({ "email": admin.email, "password": "guess guess guess" }))
            .await;
        assert_eq!(wrong.status(), 401);
    }
    // Even the right password waits now: the account is being guessed at.
    let blocked = app.post_json("/api/v1/auth/login", &json!({ "email": admin.email, "password": PASSWORD })).await;
    let retry_after: u64 = blocked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "retry-after {retry_after}");
    assert_error(blocked, 429, "rate_limited").await;
}

#[tokio::test]
async fn auth_routes_are_limited_per_ip() {
    let app = spawn_app_with(|s| s.ratelimit.auth_per_ip_per_minute = 2).await;
    let body = json!({ "email": "nobody@example.org", "password": "whatever whatever" });
    assert_eq!(app.post_json("/api/v1/auth/login", &body).await.status(), 401);
    assert_eq!(app.post_json("/api/v1/auth/login", &body).await.status(), 401);
    assert_error(app.post_json("/api/v1/auth/login", &body).await, 429, "rate_limited").await;
}

#[tokio::test]
async fn api_calls_are_limited_per_user() {
    let app = spawn_app_with(|s| s.ratelimit.api_per_user_per_minute = 3).await;
    let admin = app.register("Busy").await;
    // `register` itself called /auth/me once.
    assert_eq!(app.get_as("/api/v1/auth/me", &admin.access_token).await.status(), 200);
    assert_eq!(app.get_as("/api/v1/auth/me", &admin.access_token).await.status(), 200);
    let limited = app.get_as("/api/v1/auth/me", &admin.access_token).await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, 429, "rate_limited").await;
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let app = spawn_app().await;
    for path in ["/healthz", "/api/v1/nothing", "/api/docs/"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "strict-origin-when-cross-origin");
        assert_eq!(headers["x-frame-options"], "DENY");
    }
    // The app may load model files (and their embedded textures) from its own links only.
    let csp = app.get("/").await.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("connect-src 'self' blob: data:;") && !csp.contains("script-src"), "{csp}");

    // With a CDN in front of the asset links, its origin joins them, and nothing else does.
    let cdn = spawn_app_with(|s| s.assets.base_url = "https://cdn.example.org/".into()).await;
    let csp = cdn.get("/").await.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("connect-src 'self' blob: data: https://cdn.example.org;"), "{csp}");
}

#[tokio::test]
async fn cors_allows_same_origin_and_listed_origins_only() {
    let app = spawn_app_with(|s| s.server.cors_origins = vec!["https://lms.example.org".into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let listed = preflight("https://lms.example.org").await.unwrap();
    assert_eq!(listed.headers()["access-control-allow-origin"], "https://lms.example.org");
    let other = preflight("https://evil.example.com").await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    assert_eq!(other.status(), 400);

    let same_origin = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("origin", app.address.clone())
        .json(&json!({ "email": "a@b.example.org", "password": "whatever whatever" }))
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 401, "same-origin requests pass CORS and reach the route");
}

#[tokio::test]
async fn successful_sign_ins_do_not_count_against_the_account() {
    let app = spawn_app_with(|s| s.ratelimit.login_per_account_per_15min = 2).await;
    let admin = app.register("Frequent").await;
    for _ in 0..4 {
        let ok = app.post_json("/api/v1/auth/login", &json!({ "email": admin.email, "password": PASSWORD })).await;
        assert_eq!(ok.status(), 200);
    }
}
