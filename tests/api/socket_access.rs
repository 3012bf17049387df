//! Who may do what on the chat WebSocket, and for how long: a read-only key only watches, a revoked key's or a
//! demoted person's socket is closed (on every replica), frames count against the API limits, and another org's
//! ids answer `not_found` frame by frame.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::chat::{QUESTION, class};
use crate::chat_ws::{Ws, close_code, connect, next, open, replica_backends, send, two_replicas};
use crate::helpers::{TestApp, TestUser, assert_error, spawn_app, spawn_app_with};

/// The close code for a credential that stopped holding (and for an expired token).
const ACCESS_ENDED: u16 = 4401;

async fn api_key(app: &TestApp, admin: &TestUser, scope: &str) -> (String, String) {
    let key: Value = app
        .post_as("/api/v1/api-keys", &admin.access_token, &json!({ "name": format!("{scope} key"), "scope": scope }))
        .await
        .json()
        .await
        .unwrap();
    (key["id"].as_str().unwrap().to_owned(), key["secret"].as_str().unwrap().to_owned())
}

async fn expect_close(ws: &mut Ws, code: u16) {
    assert_eq!(close_code(ws).await, Some(CloseCode::from(code)), "the socket should close with {code}");
}

#[tokio::test]
async fn a_read_key_watches_but_cannot_write_on_the_socket() {
    let app = spawn_app().await;
    let class = class(&app).await;
    let (_, read) = api_key(&app, &class.teacher, "read").await;
    let mut ws = connect(&app, &read).await;
    // Watching an existing session is reading.
    open(&mut ws, &class.session, None).await;
    // Opening a new session, asking, cancelling and typing all write.
    for frame in [
        json!({ "type": "session.open", "persona_id": class.persona }),
        json!({ "type": "message.send", "session_id": class.session, "content": QUESTION }),
        json!({ "type": "message.cancel", "session_id": class.session }),
        json!({ "type": "typing", "session_id": class.session }),
    ] {
        send(&mut ws, frame.clone()).await;
        let refused = next(&mut ws).await;
        assert_eq!(refused["type"], "error", "{frame}: {refused}");
        assert_eq!(refused["code"], "insufficient_scope", "{frame}: {refused}");
    }
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut ws).await["type"], "pong", "the connection carries on");
}

#[tokio::test]
async fn revoking_a_key_closes_its_sockets_at_once() {
    let app = spawn_app().await;
    let class = class(&app).await;
    let (id, read) = api_key(&app, &class.teacher, "read").await;
    let mut ws = connect(&app, &read).await;
    open(&mut ws, &class.session, None).await;
    // The teacher's own socket is not the key's: it stays.
    let mut own = connect(&app, &class.teacher.access_token).await;
    open(&mut own, &class.session, None).await;
    let path = format!("/api/v1/api-keys/{id}");
    let revoked = app.send(Method::DELETE, &path, Some(&class.teacher.access_token), None).await;
    assert_eq!(revoked.status(), 204);
    expect_close(&mut ws, ACCESS_ENDED).await;
    send(&mut own, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut own).await["type"], "pong");
}

#[tokio::test]
async fn a_key_socket_rechecks_its_key_even_when_no_event_arrives() {
    let app = spawn_app_with(|s| s.chat.ws_recheck_secs = 1).await;
    let class = class(&app).await;
    let (id, read) = api_key(&app, &class.teacher, "read").await;
    let mut ws = connect(&app, &read).await;
    open(&mut ws, &class.session, None).await;
    // Revoked behind the service's back (as if its event were lost): only the periodic check can see it.
    revoke_in_database(&app, &id).await;
    expect_close(&mut ws, ACCESS_ENDED).await;
}

async fn revoke_in_database(app: &TestApp, key_id: &str) {
    use sea_orm::ConnectionTrait;
    let backend = app.backends.db.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2"
    } else {
        "UPDATE api_keys SET revoked_at = ? WHERE id = ?"
    };
    let id: uuid::Uuid = key_id.parse().unwrap();
    let statement = sea_orm::Statement::from_sql_and_values(backend, sql, [chrono::Utc::now().into(), id.into()]);
    app.backends.db.execute_raw(statement).await.unwrap();
}

#[tokio::test]
async fn a_demoted_teacher_stops_watching_and_their_old_token_is_refused() {
    let app = spawn_app().await;
    let class = class(&app).await;
    let colleague = app.invite(&class.teacher, "teacher").await;
    // A teacher watches their classes' students.
    let body = json!({ "name": "Science", "teacher_ids": [colleague.id], "student_ids": [class.student.id] });
    assert_eq!(app.post_as("/api/v1/classes", &class.teacher.access_token, &body).await.status(), 201);
    let mut ws = connect(&app, &colleague.access_token).await;
    open(&mut ws, &class.session, None).await;
    let demoted = app
        .send(
            Method::PATCH,
            &format!("/api/v1/users/{}", colleague.id),
            Some(&class.teacher.access_token),
            Some(&json!({ "role": "student" })),
        )
        .await;
    assert_eq!(demoted.status(), 200);
    expect_close(&mut ws, ACCESS_ENDED).await;
    // The token that said "teacher" is refused now, not in 15 minutes; a refreshed one carries the new role.
    let old = app.get_as(&format!("/api/v1/sessions/{}/messages", class.session), &colleague.access_token).await;
    assert_error(old, 401, "token_revoked").await;
    let fresh: Value = app
        .post_json("/api/v1/auth/refresh", &json!({ "refresh_token": colleague.refresh_token }))
        .await
        .json()
        .await
        .unwrap();
    let token = fresh["access_token"].as_str().unwrap();
    let now = app.get_as(&format!("/api/v1/sessions/{}/messages", class.session), token).await;
    assert_error(now, 404, "not_found").await;
    let mut ws = connect(&app, token).await;
    send(&mut ws, json!({ "type": "session.open", "session_id": class.session })).await;
    assert_eq!(next(&mut ws).await["code"], "not_found", "a student cannot watch another student's session");
}

#[tokio::test]
async fn socket_frames_count_against_the_callers_api_limits() {
    let app = spawn_app_with(|s| {
        s.ratelimit.api_per_user_per_minute = 6;
        s.chat.ws_rate_per_sec = 1000.0;
        s.chat.ws_rate_burst = 1000.0;
    })
    .await;
    let admin = app.register("Frames").await;
    // The upgrade itself is one call; then every frame is one.
    let mut ws = connect(&app, &admin.access_token).await;
    let mut answers = Vec::new();
    for _ in 0..8 {
        send(&mut ws, json!({ "type": "ping" })).await;
        let frame = next(&mut ws).await;
        answers
            .push(frame["type"].as_str().unwrap_or_default().to_owned() + ":" + frame["code"].as_str().unwrap_or(""));
    }
    // The budget (6 a minute, sign-up's `me` and the upgrade included) runs out part way, then stays out.
    let pongs = answers.iter().take_while(|a| a.starts_with("pong")).count();
    assert!((1..8).contains(&pongs), "{answers:?}");
    assert!(answers[pongs..].iter().all(|a| a == "error:rate_limited"), "{answers:?}");
    // The same budget as HTTP: the person's calls are refused there too.
    assert_error(app.get_as("/api/v1/auth/me", &admin.access_token).await, 429, "rate_limited").await;
}

#[tokio::test]
async fn another_orgs_ids_answer_not_found_on_every_socket_frame() {
    let app = spawn_app().await;
    let class = class(&app).await;
    let intruder = app.register("Other school").await;
    let mut ws = connect(&app, &intruder.access_token).await;
    for frame in [
        json!({ "type": "session.open", "session_id": class.session }),
        json!({ "type": "session.open", "persona_id": class.persona }),
    ] {
        send(&mut ws, frame.clone()).await;
        let answer = next(&mut ws).await;
        assert_eq!((answer["type"].as_str(), answer["code"].as_str()), (Some("error"), Some("not_found")), "{frame}");
        assert!(!answer.to_string().contains(&class.session), "{answer}");
    }
    // Frames that name a session need it opened first, which another org cannot do.
    for frame in [
        json!({ "type": "message.send", "session_id": class.session, "content": QUESTION }),
        json!({ "type": "message.cancel", "session_id": class.session }),
        json!({ "type": "typing", "session_id": class.session }),
    ] {
        send(&mut ws, frame.clone()).await;
        let answer = next(&mut ws).await;
        assert_eq!(answer["type"], "error", "{frame}: {answer}");
        assert_ne!(answer["code"], "internal", "{frame}: {answer}");
    }
    // The owner's session saw nothing of it.
    let history = crate::chat::history(&app, &class.student, &class.session).await;
    assert_eq!(history["total"], 1, "only the greeting: {history}");
}

#[tokio::test]
async fn a_revocation_on_one_replica_closes_the_keys_socket_on_the_other() {
    let Some(redis) = replica_backends() else { return };
    let (a, b) = two_replicas(&redis, |_| {}).await;
    let admin = a.register("Two replicas").await;
    let (id, read) = api_key(&a, &admin, "read").await;
    let mut ws = connect(&a, &read).await;
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut ws).await["type"], "pong");
    let revoked = b.send(Method::DELETE, &format!("/api/v1/api-keys/{id}"), Some(&admin.access_token), None).await;
    assert_eq!(revoked.status(), 204);
    expect_close(&mut ws, ACCESS_ENDED).await;
    // And a person deactivated on B is refused on A with their still-unexpired token.
    let teacher = a.invite(&admin, "teacher").await;
    let patch = b
        .send(
            Method::PATCH,
            &format!("/api/v1/users/{}", teacher.id),
            Some(&admin.access_token),
            Some(&json!({ "active": false })),
        )
        .await;
    assert_eq!(patch.status(), 200);
    let mut refused = None;
    for _ in 0..100 {
        let response = a.get_as("/api/v1/auth/me", &teacher.access_token).await;
        if response.status() == 401 {
            refused = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_error(refused.expect("replica A learns of the change"), 401, "token_revoked").await;
}
