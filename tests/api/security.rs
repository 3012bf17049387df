//! The security review's findings, each held by a test that failed before its fix: bounded unauthenticated input,
//! an atomic sign-in lockout, client addresses only from trusted proxies, access checked before a subscription,
//! no cross-tenant account disclosure, refresh and sign-out that cannot race into a live token, keys that cannot
//! sign their creator out, the registration and metrics controls, and failure messages fit for students.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn sign_in_refuses_oversized_emails_and_passwords_before_anything_else() {
    let app = spawn_app().await;
    let admin = app.register("Bounds").await;
    let long_email = format!("{}@example.org", "a".repeat(400));
    let response = app.post_json("/api/v1/auth/login", &json!({ "email": long_email, "password": "x" })).await;
    assert_error(response, 422, "invalid_request").await;
    let long_password = "p".repeat(2000);
    let response =
        app.post_json("/api/v1/auth/login", &json!({ "email": admin.email, "password": long_password })).await;
    assert_error(response, 422, "invalid_request").await;
    // Nothing of either reached the audit log.
    let audit: Value = app.get_as("/api/v1/audit?action=login.failed", &admin.access_token).await.json().await.unwrap();
    assert_eq!(audit["total"], 0, "{audit}");
    let refresh = app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": "r".repeat(5000) })).await;
    assert_error(refresh, 422, "invalid_request").await;
}

#[tokio::test]
async fn concurrent_guesses_cannot_slip_past_the_account_lockout() {
    let app = spawn_app_with(|s| {
        s.ratelimit.login_per_account_per_15min = 5;
        s.ratelimit.auth_per_ip_per_minute = 1000;
    })
    .await;
    let admin = app.register("Lockout").await;
    let guesses = (0..30).map(|n| {
        let body = json!({ "email": admin.email, "password": format!("wrong guess number {n}") });
        let app = &app;
        async move { app.post_json("/api/v1/auth/login", &body).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked <= 5, "{checked} guesses reached the password check: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
}

#[tokio::test]
async fn the_client_address_comes_only_from_trusted_proxies() {
    // Behind a proxy on 127.0.0.1: the address is the rightmost hop the proxy vouches for.
    let app = spawn_app_with(|s| {
        s.server.trusted_proxies = vec!["127.0.0.1".into(), "::1".into()];
        s.ratelimit.auth_per_ip_per_minute = 3;
    })
    .await;
    let body = json!({ "email": "nobody@example.org", "password": "whatever whatever" });
    let mut statuses = Vec::new();
    for n in 0..4 {
        // A client that writes its own X-Forwarded-For only adds entries on the left.
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("10.9.8.{n}, 203.0.113.7"))
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429], "one client, however it rotates the left of the header");
    // Another client behind the same proxy has its own budget, and junk in the header is not an address.
    let other = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "203.0.113.8")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401);
    let admin = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("x-forwarded-for", "x".repeat(500))
        .json(&json!({ "org_name": "Proxy school", "email": "proxy-admin@example.org", "password": PASSWORD,
            "name": "Pat" }))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 201);
    let token = admin.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let audit: Value = app.get_as("/api/v1/audit?action=org.registered", &token).await.json().await.unwrap();
    let ip = audit["items"][0]["ip"].as_str().unwrap();
    assert!(ip.parse::<std::net::IpAddr>().is_ok(), "the audit log holds an address, not the header: {ip}");

    // Without trusted proxies the header is ignored altogether.
    let direct = spawn_app_with(|s| s.ratelimit.auth_per_ip_per_minute = 2).await;
    for n in 0..3 {
        let response = direct
            .client
            .post(direct.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("198.51.100.{n}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), if n < 2 { 401 } else { 429 });
    }
}

#[tokio::test]
async fn progress_streams_check_access_before_they_subscribe() {
    let app = spawn_app().await;
    let teacher = app.register("Streams").await;
    let before = pubsub_topics(&app).await;
    for _ in 0..50 {
        let id = uuid::Uuid::new_v4();
        let response = app.get_as(&format!("/api/v1/documents/{id}/events"), &teacher.access_token).await;
        assert_error(response, 404, "not_found").await;
    }
    assert_eq!(pubsub_topics(&app).await, before, "refused requests left no subscription behind");
}

/// The in-process pub/sub's topic count, from `/metrics` (absent with Redis, which keeps its own).
async fn pubsub_topics(app: &TestApp) -> Option<i64> {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines().find_map(|line| line.strip_prefix("bwenge_pubsub_topics ")).map(|n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn an_invitation_never_tells_one_school_who_has_an_account_at_another() {
    let app = spawn_app().await;
    let school_a = app.register("School A").await;
    let school_b = app.register("School B").await;
    let taken = app.invite(&school_b, "teacher").await;
    // School A cannot tell B's teacher from a new address...
    let to_a_teacher = json!({ "email": taken.email, "role": "teacher" });
    let invite = app.post_as("/api/v1/invitations", &school_a.access_token, &to_a_teacher).await;
    assert_eq!(invite.status(), 201, "another org's account is not named");
    let token = invite.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    // ...the invitee, who owns the address, learns it on accepting...
    let accept = app
        .post_json(&format!("/api/v1/invitations/{token}/accept"), &json!({ "name": "T", "password": PASSWORD }))
        .await;
    assert_error(accept, 409, "email_taken").await;
    // ...and an address of the school's own is still named to that school.
    let to_a_student = json!({ "email": taken.email, "role": "student" });
    let own = app.post_as("/api/v1/invitations", &school_b.access_token, &to_a_student).await;
    assert_error(own, 409, "email_taken").await;
}

#[tokio::test]
async fn a_refresh_racing_a_sign_out_never_leaves_a_live_token() {
    let app = spawn_app_with(|s| s.ratelimit.auth_per_ip_per_minute = 10_000).await;
    let admin = app.register("Race").await;
    for round in 0..25 {
        let signed_in: Value = app
            .post_json("/api/v1/auth/login", &json!({ "email": admin.email, "password": PASSWORD }))
            .await
            .json()
            .await
            .unwrap();
        let (access, refresh) =
            (signed_in["access_token"].as_str().unwrap(), signed_in["refresh_token"].as_str().unwrap());
        let body = json!({ "refresh_token": refresh });
        let (refreshed, logged_out) = tokio::join!(
            app.post_json("/api/v1/auth/refresh", &body),
            app.send(Method::POST, "/api/v1/auth/logout", Some(access), None),
        );
        assert_eq!(logged_out.status(), 204, "round {round}");
        if refreshed.status() == 200 {
            let successor: Value = refreshed.json().await.unwrap();
            let again =
                app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": successor["refresh_token"] })).await;
            assert_eq!(again.status(), 401, "round {round}: a token issued around a sign-out everywhere still works");
        }
    }
}

#[tokio::test]
async fn a_key_cannot_sign_its_creator_out() {
    let app = spawn_app().await;
    let admin = app.register("Key logout").await;
    let key: Value = app
        .post_as("/api/v1/api-keys", &admin.access_token, &json!({ "name": "w", "scope": "write" }))
        .await
        .json()
        .await
        .unwrap();
    let logout = app.send(Method::POST, "/api/v1/auth/logout", key["secret"].as_str(), None).await;
    assert_error(logout, 403, "forbidden").await;
    let refresh = app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": admin.refresh_token })).await;
    assert_eq!(refresh.status(), 200, "the admin is still signed in");
}

#[tokio::test]
async fn registration_can_be_invitation_only_or_closed() {
    let body = |n: u32| {
        json!({ "org_name": format!("School {n}"), "email": format!("admin{n}-{}@example.org", uuid::Uuid::new_v4()),
            "password": PASSWORD, "name": "Ada" })
    };
    let invite_only = spawn_app_with(|s| s.auth.registration = bwenge::config::Registration::InviteOnly).await;
    assert_eq!(invite_only.post_json("/api/v1/auth/register", &body(1)).await.status(), 201, "the first org");
    let second = invite_only.post_json("/api/v1/auth/register", &body(2)).await;
    assert_error(second, 403, "registration_closed").await;

    let closed = spawn_app_with(|s| s.auth.registration = bwenge::config::Registration::Closed).await;
    assert_error(closed.post_json("/api/v1/auth/register", &body(3)).await, 403, "registration_closed").await;

    let open = spawn_app_with(|s| s.ratelimit.register_per_ip_per_hour = 2).await;
    assert_eq!(open.post_json("/api/v1/auth/register", &body(4)).await.status(), 201);
    assert_eq!(open.post_json("/api/v1/auth/register", &body(5)).await.status(), 201);
    assert_error(open.post_json("/api/v1/auth/register", &body(6)).await, 429, "rate_limited").await;
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let app = spawn_app_with(|s| s.metrics.token = "scrape-me-please-0123456789".to_owned().into()).await;
    assert_error(app.get("/metrics").await, 401, "metrics_token_required").await;
    let wrong = app.client.get(app.url("/metrics")).bearer_auth("scrape-me-please-0123456788").send().await.unwrap();
    assert_error(wrong, 401, "metrics_token_required").await;
    let right = app.client.get(app.url("/metrics")).bearer_auth("scrape-me-please-0123456789").send().await.unwrap();
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("bwenge_http_requests_total"));
}

#[tokio::test]
async fn a_document_that_kept_failing_tells_its_readers_nothing_of_the_servers_insides() {
    use bwenge::platform::jobs::{Outcome, Worker};
    use tokio_util::sync::CancellationToken;
    let app = spawn_app_with(|s| {
        s.jobs.workers = 0;
        s.jobs.max_attempts = 2;
    })
    .await;
    let teacher = app.register("Failures").await;
    let collection = crate::ingest::create_collection(&app, &teacher, "C").await;
    let response = crate::ingest::upload(&app, &teacher, &collection, "notes.txt", b"Rivers carve.".to_vec()).await;
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    // The file vanishes from storage: every attempt fails on our side, with a storage path in its error.
    let blob = app.settings.server.data_dir.join("objects/org").join(&teacher.org_id).join("documents").join(&id);
    std::fs::remove_file(&blob).unwrap();
    let worker = Worker::new("w".into(), app.backends.jobs.clone(), app.jobs.clone(), None);
    let mut last = None;
    for attempt in 0..2 {
        // Run each attempt as soon as it is due, whatever the backoff.
        let now = bwenge::platform::jobs::now_ms() + 3_600_000 * attempt;
        last = worker.run_one_at(now, &CancellationToken::new()).await.unwrap().map(|(_, outcome)| outcome);
    }
    assert_eq!(last, Some(Outcome::Dead));
    let done: Value = app.get_as(&format!("/api/v1/documents/{id}"), &teacher.access_token).await.json().await.unwrap();
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error_code"], "processing_failed", "{done}");
    let message = done["error"].as_str().unwrap();
    for inside in ["org/", "objects", "documents/", "No such file", "opening", &id] {
        assert!(!message.contains(inside), "the message shows `{inside}`: {message}");
    }
}
