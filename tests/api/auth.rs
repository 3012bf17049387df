//! Sign-up, sign-in, token rotation and reuse detection, sign-out, deactivation.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{PASSWORD, assert_error, spawn_app};

#[tokio::test]
async fn register_creates_an_org_and_its_admin_and_me_returns_both() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({ "org_name": "Lycée de Kigali", "email": "Head@Kigali.example.org", "password": PASSWORD, "name": "Head" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let tokens: serde_json::Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let me: serde_json::Value =
        app.get_as("/api/v1/auth/me", tokens["access_token"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(me["user"]["email"], "head@kigali.example.org", "emails are stored lower-cased");
    assert_eq!(me["user"]["role"], "admin");
    assert_eq!(me["org"]["name"], "Lycée de Kigali");
    assert_eq!(me["org"]["plan"], "free");
    assert!(uuid::Uuid::parse_str(me["org"]["id"].as_str().unwrap()).is_ok());
    assert!(me["user"].get("password_hash").is_none());
}

#[tokio::test]
async fn weak_password_is_refused_with_the_rule_named() {
    let app = spawn_app().await;
    for (password, rule) in [("password", "at least 10"), ("password12345", "too easy")] {
        let response = app
            .post_json(
                "/api/v1/auth/register",
                &json!({ "org_name": "X", "email": "x@x.example.org", "password": password, "name": "X" }),
            )
            .await;
        let body = assert_error(response, 422, "weak_password").await;
        assert!(body["error"]["message"].as_str().unwrap().contains(rule), "{body}");
    }
}

#[tokio::test]
async fn duplicate_email_and_bad_fields_are_refused() {
    let app = spawn_app().await;
    let admin = app.register("First").await;
    let again = app
        .post_json(
            "/api/v1/auth/register",
            &json!({ "org_name": "Second", "email": admin.email.to_uppercase(), "password": PASSWORD, "name": "B" }),
        )
        .await;
    assert_error(again, 409, "email_taken").await;
    let bad_email = app
        .post_json(
            "/api/v1/auth/register",
            &json!({ "org_name": "S", "email": "nope", "password": PASSWORD, "name": "B" }),
        )
        .await;
    assert_error(bad_email, 422, "invalid_request").await;
    let missing_field = app.post_json("/api/v1/auth/register", &json!({ "org_name": "S" })).await;
    assert_error(missing_field, 422, "invalid_body").await;
}

#[tokio::test]
async fn login_succeeds_with_the_right_password_only_and_both_outcomes_are_audited() {
    let app = spawn_app().await;
    let admin = app.register("Audited").await;
    let wrong = app
        .post_json("/api/v1/auth/login", &json!({ "email": admin.email, "password": "not the password at all" }))
        .await;
    assert_error(wrong, 401, "invalid_credentials").await;
    let unknown =
        app.post_json("/api/v1/auth/login", &json!({ "email": "ghost@example.org", "password": PASSWORD })).await;
    assert_error(unknown, 401, "invalid_credentials").await;
    let ok = app.post_json("/api/v1/auth/login", &json!({ "email": admin.email, "password": PASSWORD })).await;
    assert_eq!(ok.status(), 200);

    let audit: serde_json::Value =
        app.get_as("/api/v1/audit?per_page=100", &admin.access_token).await.json().await.unwrap();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"login.succeeded"), "{actions:?}");
    assert!(actions.contains(&"login.failed"), "{actions:?}");
    assert!(actions.contains(&"org.registered"), "{actions:?}");
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_its_whole_family() {
    let app = spawn_app().await;
    let admin = app.register("Rotation").await;
    let first = app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": admin.refresh_token })).await;
    assert_eq!(first.status(), 200);
    let second: serde_json::Value = first.json().await.unwrap();
    let rotated = second["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, admin.refresh_token, "a new refresh token each time");

    // The old token comes back (stolen copy): refused, and the family dies with it.
    let reuse = app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": admin.refresh_token })).await;
    assert_error(reuse, 401, "refresh_token_reused").await;
    let successor = app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": rotated })).await;
    assert_error(successor, 401, "invalid_refresh_token").await;

    let audit: serde_json::Value =
        app.get_as("/api/v1/audit?action=token.reuse_detected", &admin.access_token).await.json().await.unwrap();
    assert_eq!(audit["total"], 1);
    let garbage = app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": "made-up" })).await;
    assert_error(garbage, 401, "invalid_refresh_token").await;
}

#[tokio::test]
async fn logout_revokes_the_refresh_family() {
    let app = spawn_app().await;
    let admin = app.register("Logout").await;
    let response =
        app.post_as("/api/v1/auth/logout", &admin.access_token, &json!({ "refresh_token": admin.refresh_token })).await;
    assert_eq!(response.status(), 204);
    let refresh = app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": admin.refresh_token })).await;
    assert_error(refresh, 401, "invalid_refresh_token").await;
}

#[tokio::test]
async fn a_deactivated_user_cannot_sign_in_or_refresh() {
    let app = spawn_app().await;
    let admin = app.register("Deactivation").await;
    let teacher = app.invite(&admin, "teacher").await;
    let patch = app
        .send(
            Method::PATCH,
            &format!("/api/v1/users/{}", teacher.id),
            Some(&admin.access_token),
            Some(&json!({ "active": false })),
        )
        .await;
    assert_eq!(patch.status(), 200);
    // Deactivation revoked every refresh token and ends the access token already issued, at once.
    let refresh = app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": teacher.refresh_token })).await;
    assert_error(refresh, 401, "invalid_refresh_token").await;
    assert_error(app.get_as("/api/v1/auth/me", &teacher.access_token).await, 401, "token_revoked").await;
    let login = app.post_json("/api/v1/auth/login", &json!({ "email": teacher.email, "password": PASSWORD })).await;
    assert_error(login, 403, "account_disabled").await;
    // Reactivated, they sign in again.
    let patch = app
        .send(
            Method::PATCH,
            &format!("/api/v1/users/{}", teacher.id),
            Some(&admin.access_token),
            Some(&json!({ "active": true })),
        )
        .await;
    assert_eq!(patch.status(), 200);
    let login = app.post_json("/api/v1/auth/login", &json!({ "email": teacher.email, "password": PASSWORD })).await;
    assert_eq!(login.status(), 200);
}

#[tokio::test]
async fn tokens_signed_elsewhere_or_expired_are_refused() {
    let app = spawn_app().await;
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": uuid::Uuid::new_v4(), "org": uuid::Uuid::new_v4(), "role": "admin",
                 "exp": chrono::Utc::now().timestamp() + 600, "iat": 0, "jti": uuid::Uuid::new_v4() }),
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-server-key-not-the-server-key"),
    )
    .unwrap();
    assert_error(app.get_as("/api/v1/auth/me", &forged).await, 401, "invalid_token").await;

    let key = std::fs::read(app.settings.server.data_dir.join("secrets/jwt.key")).unwrap();
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": uuid::Uuid::new_v4(), "org": uuid::Uuid::new_v4(), "role": "admin",
                 "exp": chrono::Utc::now().timestamp() - 600, "iat": 0, "jti": uuid::Uuid::new_v4() }),
        &jsonwebtoken::EncodingKey::from_secret(&key),
    )
    .unwrap();
    assert_error(app.get_as("/api/v1/auth/me", &expired).await, 401, "token_expired").await;
}
