//! Invitations, user management and API keys.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{PASSWORD, assert_error, spawn_app};

#[tokio::test]
async fn admins_invite_teachers_and_students_and_teachers_invite_students_only() {
    let app = spawn_app().await;
    let admin = app.register("Invites").await;
    let teacher = app.invite(&admin, "teacher").await;
    let student = app.invite(&teacher, "student").await;
    let me: serde_json::Value = app.get_as("/api/v1/auth/me", &student.access_token).await.json().await.unwrap();
    assert_eq!(me["user"]["role"], "student");
    assert_eq!(me["org"]["id"], admin.org_id.as_str(), "invitees join the inviter's org");

    let teacher_invites_teacher = app
        .post_as(
            "/api/v1/invitations",
            &teacher.access_token,
            &json!({ "email": "t2@x.example.org", "role": "teacher" }),
        )
        .await;
    assert_error(teacher_invites_teacher, 403, "forbidden").await;
    let admin_invites_admin = app
        .post_as("/api/v1/invitations", &admin.access_token, &json!({ "email": "a2@x.example.org", "role": "admin" }))
        .await;
    assert_error(admin_invites_admin, 403, "forbidden").await;
    let student_invites = app
        .post_as(
            "/api/v1/invitations",
            &student.access_token,
            &json!({ "email": "s2@x.example.org", "role": "student" }),
        )
        .await;
    assert_error(student_invites, 403, "forbidden").await;
}

#[tokio::test]
async fn an_invitation_is_single_use() {
    let app = spawn_app().await;
    let admin = app.register("Single use").await;
    let invite: serde_json::Value = app
        .post_as(
            "/api/v1/invitations",
            &admin.access_token,
            &json!({ "email": "once@x.example.org", "role": "student" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/invitations/{}/accept", invite["token"].as_str().unwrap());
    let body = json!({ "name": "Once", "password": PASSWORD });
    assert_eq!(app.post_json(&path, &body).await.status(), 201);
    assert_error(app.post_json(&path, &body).await, 404, "invalid_invitation").await;
    assert_error(app.post_json("/api/v1/invitations/inv_forged/accept", &body).await, 404, "invalid_invitation").await;
}

#[tokio::test]
async fn users_are_listed_with_pagination_and_search_and_roles_change_by_admins_only() {
    let app = spawn_app().await;
    let admin = app.register("Directory").await;
    let teacher = app.invite(&admin, "teacher").await;
    for _ in 0..3 {
        app.invite(&teacher, "student").await;
    }
    let page: serde_json::Value =
        app.get_as("/api/v1/users?per_page=2&page=1", &admin.access_token).await.json().await.unwrap();
    assert_eq!(page["total"], 5);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let students: serde_json::Value =
        app.get_as("/api/v1/users?role=student", &teacher.access_token).await.json().await.unwrap();
    assert_eq!(students["total"], 3);
    let search: serde_json::Value = app
        .get_as(&format!("/api/v1/users?q={}", &teacher.email[..12]), &admin.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(search["total"], 1);
    assert_eq!(search["items"][0]["email"], teacher.email.as_str());

    let by_teacher = app
        .send(
            Method::PATCH,
            &format!("/api/v1/users/{}", teacher.id),
            Some(&teacher.access_token),
            Some(&json!({ "role": "admin" })),
        )
        .await;
    assert_error(by_teacher, 403, "forbidden").await;
    let by_admin = app
        .send(
            Method::PATCH,
            &format!("/api/v1/users/{}", teacher.id),
            Some(&admin.access_token),
            Some(&json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(by_admin.status(), 200);
    let audit: serde_json::Value =
        app.get_as("/api/v1/audit?action=user.role_changed", &admin.access_token).await.json().await.unwrap();
    assert_eq!(audit["items"][0]["details"]["to"], "admin");
    let self_demotion = app
        .send(
            Method::PATCH,
            &format!("/api/v1/users/{}", admin.id),
            Some(&admin.access_token),
            Some(&json!({ "role": "student" })),
        )
        .await;
    assert_error(self_demotion, 409, "conflict").await;
}

#[tokio::test]
async fn deleting_a_user_ends_their_sessions_and_is_audited() {
    let app = spawn_app().await;
    let admin = app.register("Deletion").await;
    let student = app.invite(&admin, "student").await;
    let classmate = app.invite(&admin, "student").await;
    // Both students talk to a tutor; only the deleted one's conversations may go.
    let persona: serde_json::Value = app
        .post_as("/api/v1/personas", &admin.access_token, &json!({ "name": "Tutor", "greeting": "Hello!" }))
        .await
        .json()
        .await
        .unwrap();
    let persona = persona["id"].as_str().unwrap();
    let mut sessions = Vec::new();
    for who in [&student, &classmate] {
        let session: serde_json::Value = app
            .post_as(&format!("/api/v1/personas/{persona}/sessions"), &who.access_token, &json!({}))
            .await
            .json()
            .await
            .unwrap();
        let id = session["id"].as_str().unwrap().to_owned();
        let asked = app
            .post_as(&format!("/api/v1/sessions/{id}/messages"), &who.access_token, &json!({ "content": "Why?" }))
            .await;
        assert_eq!(asked.status(), 200);
        sessions.push(id);
    }
    let read = app.get_as(&format!("/api/v1/sessions/{}/messages", sessions[0]), &admin.access_token).await;
    assert_eq!(read.json::<serde_json::Value>().await.unwrap()["total"], 3, "greeting, question, answer");

    let deleted =
        app.send(Method::DELETE, &format!("/api/v1/users/{}", student.id), Some(&admin.access_token), None).await;
    assert_eq!(deleted.status(), 204);
    assert_error(app.get_as(&format!("/api/v1/users/{}", student.id), &admin.access_token).await, 404, "not_found")
        .await;
    let refresh = app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": student.refresh_token })).await;
    assert_error(refresh, 401, "invalid_refresh_token").await;
    // Staff can no longer read the deleted student's conversation, and nothing of it is left in the tables.
    let gone = app.get_as(&format!("/api/v1/sessions/{}/messages", sessions[0]), &admin.access_token).await;
    assert_error(gone, 404, "not_found").await;
    assert_eq!(count_rows(&app, "chat_sessions", &student.id).await, 0);
    assert_eq!(count_messages_of_sessions(&app, &sessions[0]).await, 0);
    // The classmate's conversation is untouched.
    let kept = app.get_as(&format!("/api/v1/sessions/{}/messages", sessions[1]), &admin.access_token).await;
    assert_eq!(kept.json::<serde_json::Value>().await.unwrap()["total"], 3);
    let audit: serde_json::Value =
        app.get_as("/api/v1/audit?action=user.deleted", &admin.access_token).await.json().await.unwrap();
    assert_eq!(audit["items"][0]["target_id"], student.id.as_str());
}

async fn count_rows(app: &crate::helpers::TestApp, table: &str, user_id: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let user: uuid::Uuid = user_id.parse().unwrap();
    let query = Query::select()
        .expr_as(Expr::col(Alias::new("id")).count(), Alias::new("n"))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new("user_id")).eq(user))
        .to_owned();
    app.backends.db.query_one(&query).await.unwrap().unwrap().try_get::<i64>("", "n").unwrap()
}

async fn count_messages_of_sessions(app: &crate::helpers::TestApp, session_id: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let session: uuid::Uuid = session_id.parse().unwrap();
    let query = Query::select()
        .expr_as(Expr::col(Alias::new("id")).count(), Alias::new("n"))
        .from(Alias::new("chat_messages"))
        .and_where(Expr::col(Alias::new("session_id")).eq(session))
        .to_owned();
    app.backends.db.query_one(&query).await.unwrap().unwrap().try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn api_keys_are_shown_once_scoped_and_revocable() {
    let app = spawn_app().await;
    let admin = app.register("Keys").await;
    let created =
        app.post_as("/api/v1/api-keys", &admin.access_token, &json!({ "name": "LMS sync", "scope": "read" })).await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("bwk_"));
    let listed: serde_json::Value = app.get_as("/api/v1/api-keys", &admin.access_token).await.json().await.unwrap();
    assert_eq!(listed[0]["prefix"], &secret[..12]);
    assert!(!listed.to_string().contains(secret), "the secret is never shown again");

    let me: serde_json::Value = app.get_as("/api/v1/auth/me", secret).await.json().await.unwrap();
    assert_eq!(me["org"]["id"], admin.org_id.as_str());
    assert_eq!(me["role"], "teacher");
    assert_eq!(app.get_as("/api/v1/users", secret).await.status(), 200, "a read key reads");
    let write =
        app.post_as("/api/v1/invitations", secret, &json!({ "email": "k@x.example.org", "role": "student" })).await;
    assert_error(write, 403, "insufficient_scope").await;
    let escalate = app.post_as("/api/v1/api-keys", secret, &json!({ "name": "x", "scope": "write" })).await;
    assert_eq!(escalate.status(), 403);

    let id = created["id"].as_str().unwrap();
    let revoked = app.send(Method::DELETE, &format!("/api/v1/api-keys/{id}"), Some(&admin.access_token), None).await;
    assert_eq!(revoked.status(), 204);
    assert_error(app.get_as("/api/v1/auth/me", secret).await, 401, "invalid_token").await;
    let write_key: serde_json::Value = app
        .post_as("/api/v1/api-keys", &admin.access_token, &json!({ "name": "writer", "scope": "write" }))
        .await
        .json()
        .await
        .unwrap();
    let invite = app
        .post_as(
            "/api/v1/invitations",
            write_key["secret"].as_str().unwrap(),
            &json!({ "email": "w@x.example.org", "role": "student" }),
        )
        .await;
    let body = assert_error(invite, 403, "forbidden").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("API keys cannot invite"), "{body}");
    // A write key still writes content, as a teacher would.
    let collection =
        app.post_as("/api/v1/collections", write_key["secret"].as_str().unwrap(), &json!({ "name": "Synced" })).await;
    assert_eq!(collection.status(), 201, "a write key acts as a teacher on content");
}

#[tokio::test]
async fn an_expired_invitation_is_refused() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let admin = app.register("Expiry").await;
    let invite: serde_json::Value = app
        .post_as(
            "/api/v1/invitations",
            &admin.access_token,
            &json!({ "email": "late@x.example.org", "role": "student" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let expires: chrono::DateTime<chrono::Utc> = invite["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (expires - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "valid for 7 days, got {days} h");
    // Eight days pass.
    let id = uuid::Uuid::parse_str(invite["id"].as_str().unwrap()).unwrap();
    let past = chrono::Utc::now() - chrono::Duration::days(1);
    let backend = app.backends.db.get_database_backend();
    app.backends
        .db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            if backend == sea_orm::DbBackend::Postgres {
                "UPDATE invitations SET expires_at = $1 WHERE id = $2"
            } else {
                "UPDATE invitations SET expires_at = ? WHERE id = ?"
            },
            [past.into(), id.into()],
        ))
        .await
        .unwrap();
    let path = format!("/api/v1/invitations/{}/accept", invite["token"].as_str().unwrap());
    let late = app.post_json(&path, &json!({ "name": "Late", "password": PASSWORD })).await;
    assert_error(late, 404, "invalid_invitation").await;
}

#[tokio::test]
async fn logout_without_a_token_ends_every_session_of_the_caller() {
    let app = spawn_app().await;
    let admin = app.register("Everywhere").await;
    let second: serde_json::Value = app
        .post_json("/api/v1/auth/login", &json!({ "email": admin.email, "password": PASSWORD }))
        .await
        .json()
        .await
        .unwrap();
    let out = app.send(Method::POST, "/api/v1/auth/logout", Some(&admin.access_token), None).await;
    assert_eq!(out.status(), 204);
    for token in [admin.refresh_token.as_str(), second["refresh_token"].as_str().unwrap()] {
        let refresh = app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": token })).await;
        assert_error(refresh, 401, "invalid_refresh_token").await;
    }
}
