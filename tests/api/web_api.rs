//! What the web app needs of the API: the refresh cookie, the first-run status, invitations a person can manage,
//! and staff reading their org's sessions.

use reqwest::Method;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};

use crate::chat::{QUESTION, class, new_session};
use crate::helpers::{PASSWORD, TestApp, assert_error, spawn_app};

/// The `bwenge_refresh=...` pair of a response's cookie, and the whole `Set-Cookie` line.
fn refresh_cookie(response: &reqwest::Response) -> (String, String) {
    let line = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("bwenge_refresh="))
        .expect("a refresh cookie is set");
    (line.split(';').next().unwrap().to_owned(), line)
}

async fn refresh_with(app: &TestApp, cookie: &str) -> reqwest::Response {
    app.client.post(app.url("/api/v1/auth/refresh")).header(COOKIE, cookie).json(&json!({})).send().await.unwrap()
}

#[tokio::test]
async fn a_browser_keeps_its_refresh_token_in_an_httponly_cookie_that_rotates_and_signs_out() {
    let app = spawn_app().await;
    let registered = app
        .post_json(
            "/api/v1/auth/register",
            &json!({ "org_name": "Cookie school", "email": "ada@cookie.example.org", "password": PASSWORD,
                "name": "Ada", "refresh_in_cookie": true }),
        )
        .await;
    assert_eq!(registered.status(), 201);
    let (first, line) = refresh_cookie(&registered);
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/api/v1/auth/", "Max-Age="] {
        assert!(line.contains(attribute), "{attribute} in {line}");
    }
    assert!(!line.contains("Secure"), "plain HTTP on loopback: a Secure cookie would never come back");
    let body: Value = registered.json().await.unwrap();
    assert!(body["access_token"].is_string());
    assert!(body.get("refresh_token").is_none(), "no script may read it: {body}");

    // A reload: the cookie alone gets a new access token and a new cookie; the old one is spent.
    let refreshed = refresh_with(&app, &first).await;
    assert_eq!(refreshed.status(), 200);
    let (second, _) = refresh_cookie(&refreshed);
    assert_ne!(first, second, "the refresh token rotates");
    let tokens: Value = refreshed.json().await.unwrap();
    assert!(tokens.get("refresh_token").is_none());
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_as("/api/v1/auth/me", &access).await.status(), 200);

    // A token sent in the body still works for other clients, and still answers in the body.
    let login =
        app.post_json("/api/v1/auth/login", &json!({ "email": "ada@cookie.example.org", "password": PASSWORD })).await;
    let other_device: Value = login.json().await.unwrap();
    assert!(other_device["refresh_token"].is_string());

    // Sign-out ends this browser's family only, and clears the cookie.
    let out = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&access)
        .header(COOKIE, &second)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let (cleared, line) = refresh_cookie(&out);
    assert_eq!(cleared, "bwenge_refresh=", "{line}");
    assert!(line.contains("Max-Age=0"), "{line}");
    let after = refresh_with(&app, &second).await;
    assert!(refresh_cookie(&after).0 == "bwenge_refresh=", "a dead cookie is cleared");
    assert_error(after, 401, "invalid_refresh_token").await;
    let other = app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": other_device["refresh_token"] })).await;
    assert_eq!(other.status(), 200, "the other device stays signed in");

    // No cookie and no body: the clear error, not a 500.
    let none = app.post_json("/api/v1/auth/refresh", &json!({})).await;
    assert_error(none, 401, "invalid_refresh_token").await;
}

#[tokio::test]
async fn the_status_says_whether_the_first_organisation_is_still_to_be_created() {
    let app = spawn_app().await;
    let status: Value = app.get("/api/v1/auth/status").await.json().await.unwrap();
    assert_eq!(status, json!({ "registration": "open", "first_run": true }));
    app.register("First school").await;
    let status: Value = app.get("/api/v1/auth/status").await.json().await.unwrap();
    assert_eq!(status["first_run"], false);
}

#[tokio::test]
async fn invitations_are_listed_without_their_links_and_revoked_within_the_callers_rights() {
    let app = spawn_app().await;
    let admin = app.register("Invite school").await;
    let teacher = app.invite(&admin, "teacher").await;
    let student = app.invite(&teacher, "student").await;
    let invite = |who: &str, email: &str, role: &str| {
        let (app, token, body) = (&app, who.to_owned(), json!({ "email": email, "role": role }));
        async move { app.post_as("/api/v1/invitations", &token, &body).await.json::<Value>().await.unwrap() }
    };
    let for_teacher = invite(&admin.access_token, "t2@example.org", "teacher").await;
    let for_student = invite(&teacher.access_token, "s2@example.org", "student").await;

    let listed: Value = app.get_as("/api/v1/invitations", &admin.access_token).await.json().await.unwrap();
    assert_eq!(listed["total"], 2, "pending ones only: {listed}");
    assert!(listed["items"].as_array().unwrap().iter().all(|i| i.get("token").is_none()), "no links: {listed}");
    let teachers_view: Value = app.get_as("/api/v1/invitations", &teacher.access_token).await.json().await.unwrap();
    assert_eq!(teachers_view["total"], 1, "teachers see student invitations: {teachers_view}");
    assert_eq!(teachers_view["items"][0]["email"], "s2@example.org");
    assert_error(app.get_as("/api/v1/invitations", &student.access_token).await, 403, "forbidden").await;

    let revoke = |token: &str, id: &Value| {
        let path = format!("/api/v1/invitations/{}", id.as_str().unwrap());
        let token = token.to_owned();
        let app = &app;
        async move { app.send(Method::DELETE, &path, Some(&token), None).await }
    };
    assert_error(revoke(&teacher.access_token, &for_teacher["id"]).await, 404, "not_found").await;
    assert_eq!(revoke(&teacher.access_token, &for_student["id"]).await.status(), 204);
    let accept = app
        .post_json(
            &format!("/api/v1/invitations/{}/accept", for_student["token"].as_str().unwrap()),
            &json!({ "name": "Late", "password": PASSWORD }),
        )
        .await;
    assert_error(accept, 404, "invalid_invitation").await;
    let other = app.register("Other school").await;
    assert_error(revoke(&other.access_token, &for_teacher["id"]).await, 404, "not_found").await;
    let audit: Value =
        app.get_as("/api/v1/audit?action=invitation.revoked", &admin.access_token).await.json().await.unwrap();
    assert_eq!(audit["total"], 1, "{audit}");
    assert_eq!(audit["items"][0]["actor_name"], "A teacher");
}

#[tokio::test]
async fn staff_find_a_students_sessions_by_student_tutor_and_date_and_students_only_their_own() {
    let app = spawn_app().await;
    let class = class(&app).await;
    let path = format!("/api/v1/sessions/{}/messages", class.session);
    let asked = app.post_as(&path, &class.student.access_token, &json!({ "content": QUESTION })).await;
    assert_eq!(asked.status(), 200);
    let other_student = app.invite(&class.teacher, "student").await;
    let other_session = new_session(&app, &other_student, &class.persona).await;
    new_session(&app, &class.teacher, &class.persona).await; // a tutor tried out, no question: nothing to read
    let path = format!("/api/v1/sessions/{other_session}/messages");
    let volcano =
        app.post_as(&path, &other_student.access_token, &json!({ "content": "Why do volcanoes erupt?" })).await;
    assert_eq!(volcano.status(), 200);

    let list = |query: &str, token: &str| {
        let (app, path, token) = (&app, format!("/api/v1/sessions{query}"), token.to_owned());
        async move { app.get_as(&path, &token).await }
    };
    let all: Value = list("?scope=org", &class.teacher.access_token).await.json().await.unwrap();
    assert_eq!(all["total"], 2, "{all}");
    let first = all["items"].as_array().unwrap().iter().find(|s| s["id"] == class.session.as_str()).unwrap();
    assert_eq!(first["user_id"], class.student.id.as_str());
    assert_eq!(first["user_name"], "A student");
    assert_eq!(first["persona_name"], "Professor Leaf");
    assert_eq!(first["title"], QUESTION, "titled by the first question");
    assert_eq!(first["message_count"], 3, "greeting, question, answer");

    let by_student: Value = list(&format!("?scope=org&user_id={}", other_student.id), &class.teacher.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_student["total"], 1);
    assert_eq!(by_student["items"][0]["id"], other_session.as_str());
    assert_eq!(by_student["items"][0]["title"], "Why do volcanoes erupt?");
    let by_tutor: Value = list(&format!("?scope=org&persona_id={}", uuid::Uuid::new_v4()), &class.teacher.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_tutor["total"], 0);
    let later: Value =
        list("?scope=org&from=2999-01-01T00:00:00Z", &class.teacher.access_token).await.json().await.unwrap();
    assert_eq!(later["total"], 0);
    let earlier: Value =
        list("?scope=org&to=2000-01-01T00:00:00Z", &class.teacher.access_token).await.json().await.unwrap();
    assert_eq!(earlier["total"], 0);
    assert_error(list("?scope=org&from=yesterday", &class.teacher.access_token).await, 400, "invalid_query").await;

    let mine: Value = list("", &class.teacher.access_token).await.json().await.unwrap();
    assert_eq!(mine["total"], 1, "the default is the caller's own, begun or not: the try-out");
    assert_error(list("?scope=org", &class.student.access_token).await, 403, "forbidden").await;
    let own: Value = list("", &class.student.access_token).await.json().await.unwrap();
    assert_eq!(own["total"], 1);

    let one = app.get_as(&format!("/api/v1/sessions/{}", class.session), &class.teacher.access_token).await;
    assert_eq!(one.status(), 200);
    assert_eq!(one.json::<Value>().await.unwrap()["title"], QUESTION);
    let stranger = app.register("Stranger school").await;
    let theirs = app.get_as(&format!("/api/v1/sessions/{}", class.session), &stranger.access_token).await;
    assert_error(theirs, 404, "not_found").await;
    let peer = app.get_as(&format!("/api/v1/sessions/{}", class.session), &other_student.access_token).await;
    assert_error(peer, 404, "not_found").await;
}
