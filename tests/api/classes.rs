//! Classes through the HTTP API: who may create, see and change them, member and tutor checks, what students see,
//! and a deleted person leaving their classes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_error, spawn_app};

async fn create(app: &TestApp, user: &TestUser, body: Value) -> reqwest::Response {
    app.post_as("/api/v1/classes", &user.access_token, &body).await
}

async fn patch(app: &TestApp, user: &TestUser, id: &str, body: Value) -> reqwest::Response {
    app.send(Method::PATCH, &format!("/api/v1/classes/{id}"), Some(&user.access_token), Some(&body)).await
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn teachers_run_their_classes_and_see_only_those() {
    let app = spawn_app().await;
    let admin = app.register("Class school").await;
    let ada = app.invite(&admin, "teacher").await;
    let bob = app.invite(&admin, "teacher").await;
    let sam = app.invite(&admin, "student").await;
    let kim = app.invite(&admin, "student").await;
    let persona: Value =
        app.post_as("/api/v1/personas", &admin.access_token, &json!({ "name": "Tutor" })).await.json().await.unwrap();

    // A teacher's class: they teach it without saying so.
    let response = create(
        &app,
        &ada,
        json!({ "name": "  Biology 7B ", "description": "Tuesdays", "student_ids": [sam.id, kim.id, sam.id],
                "persona_ids": [persona["id"]] }),
    )
    .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let biology: Value = response.json().await.unwrap();
    let id = biology["id"].as_str().unwrap().to_owned();
    assert_eq!(biology["name"], "Biology 7B");
    assert_eq!(biology["teachers"][0]["id"], ada.id.as_str());
    assert_eq!((biology["student_count"].as_u64(), biology["students"].as_array().unwrap().len()), (Some(2), 2));
    assert_eq!(biology["persona_ids"], json!([persona["id"]]));
    let chemistry: Value =
        create(&app, &bob, json!({ "name": "Chemistry", "student_ids": [kim.id] })).await.json().await.unwrap();

    // Who sees what: the admin all, each teacher theirs, each student theirs without classmates.
    let list = |user: &TestUser| {
        let token = user.access_token.clone();
        let app = &app;
        async move { app.get_as("/api/v1/classes", &token).await.json::<Value>().await.unwrap() }
    };
    assert_eq!(names(&list(&admin).await["items"]), ["Biology 7B", "Chemistry"]);
    assert_eq!(names(&list(&ada).await["items"]), ["Biology 7B"]);
    assert_eq!(names(&list(&bob).await["items"]), ["Chemistry"]);
    let kims = list(&kim).await;
    assert_eq!(names(&kims["items"]), ["Biology 7B", "Chemistry"]);
    assert_eq!(kims["items"][0]["students"], json!([]), "classmates are not listed to students");
    assert_eq!(kims["items"][0]["student_count"], 2);
    let other = chemistry["id"].as_str().unwrap();
    assert_error(app.get_as(&format!("/api/v1/classes/{other}"), &ada.access_token).await, 404, "not_found").await;
    assert_error(app.get_as(&format!("/api/v1/classes/{other}"), &sam.access_token).await, 404, "not_found").await;

    // Only its teachers (and admins) change it.
    assert_error(patch(&app, &bob, &id, json!({ "name": "Mine now" })).await, 404, "not_found").await;
    let response = patch(&app, &ada, &id, json!({ "teacher_ids": [ada.id, bob.id], "student_ids": [sam.id] })).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["teachers"].as_array().unwrap().len(), 2);
    assert_eq!(changed["student_count"], 1);
    assert_eq!(changed["description"], "Tuesdays", "absent fields are kept");
    assert_eq!(changed["persona_ids"], json!([persona["id"]]));
    assert_eq!(names(&list(&bob).await["items"]), ["Biology 7B", "Chemistry"], "bob teaches it now");
    assert_eq!(names(&list(&kim).await["items"]), ["Chemistry"], "kim left it");

    // A deleted person leaves their classes.
    let response =
        app.send(Method::DELETE, &format!("/api/v1/users/{}", sam.id), Some(&admin.access_token), None).await;
    assert_eq!(response.status(), 204);
    let after: Value = app.get_as(&format!("/api/v1/classes/{id}"), &ada.access_token).await.json().await.unwrap();
    assert_eq!(after["student_count"], 0, "{after}");

    let response = app.send(Method::DELETE, &format!("/api/v1/classes/{id}"), Some(&bob.access_token), None).await;
    assert_eq!(response.status(), 204);
    assert_error(app.get_as(&format!("/api/v1/classes/{id}"), &admin.access_token).await, 404, "not_found").await;
    let audit: Value =
        app.get_as("/api/v1/audit?action=class.deleted", &admin.access_token).await.json().await.unwrap();
    assert_eq!(audit["items"][0]["target_id"], id.as_str(), "{audit}");
}

#[tokio::test]
async fn members_and_tutors_must_be_the_orgs_and_fit_their_role() {
    let app = spawn_app().await;
    let admin = app.register("Strict class school").await;
    let teacher = app.invite(&admin, "teacher").await;
    let student = app.invite(&admin, "student").await;
    let stranger = app.register("Elsewhere school").await;
    let random = uuid::Uuid::new_v4().to_string();
    let cases = [
        (json!({ "name": "  " }), "field_required"),
        (json!({ "name": "x".repeat(121) }), "field_too_long"),
        (json!({ "name": "A", "student_ids": [stranger.id] }), "unknown_user"),
        (json!({ "name": "A", "teacher_ids": [random] }), "unknown_user"),
        (json!({ "name": "A", "teacher_ids": [student.id] }), "wrong_role"),
        (json!({ "name": "A", "student_ids": [teacher.id] }), "wrong_role"),
        (json!({ "name": "A", "persona_ids": [random] }), "unknown_persona"),
        (json!({ "name": "A", "colour": "red" }), "invalid_body"),
    ];
    for (body, code) in cases {
        let response = create(&app, &admin, body.clone()).await;
        let error = assert_error(response, 422, code).await;
        assert!(!error["error"]["message"].as_str().unwrap().is_empty(), "{body}");
    }
    assert_error(create(&app, &student, json!({ "name": "Mine" })).await, 403, "forbidden").await;
    let list: Value = app.get_as("/api/v1/classes", &admin.access_token).await.json().await.unwrap();
    assert_eq!(list["total"], 0, "nothing refused was created: {list}");
}

#[tokio::test]
async fn an_invitation_may_name_a_class_its_inviter_teaches() {
    let app = spawn_app().await;
    let admin = app.register("Invited class school").await;
    let teacher = app.invite(&admin, "teacher").await;
    let other = app.invite(&admin, "teacher").await;
    let class: Value = create(&app, &teacher, json!({ "name": "Art" })).await.json().await.unwrap();
    let class_id = class["id"].as_str().unwrap();

    // Another teacher's class, or one that does not exist, cannot be named.
    for (inviter, id) in [(&other, class_id.to_owned()), (&teacher, uuid::Uuid::new_v4().to_string())] {
        let body = json!({ "email": "nope@example.org", "role": "student", "class_id": id });
        assert_error(app.post_as("/api/v1/invitations", &inviter.access_token, &body).await, 422, "unknown_class")
            .await;
    }

    let body = json!({ "email": "pupil@example.org", "role": "student", "class_id": class_id });
    let invite = app.post_as("/api/v1/invitations", &teacher.access_token, &body).await;
    assert_eq!(invite.status(), 201);
    let token = invite.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let pending: Value = app.get_as("/api/v1/invitations", &teacher.access_token).await.json().await.unwrap();
    assert!(pending["items"].as_array().unwrap().iter().any(|i| i["class_id"] == class_id), "{pending}");
    let body = json!({ "name": "Pat Pupil", "password": crate::helpers::PASSWORD });
    let accepted = app.post_json(&format!("/api/v1/invitations/{token}/accept"), &body).await;
    assert_eq!(accepted.status(), 201);
    let art: Value =
        app.get_as(&format!("/api/v1/classes/{class_id}"), &teacher.access_token).await.json().await.unwrap();
    assert_eq!(names(&art["students"]), ["Pat Pupil"], "{art}");
}

#[tokio::test]
async fn a_teacher_reads_the_conversations_of_their_classes_students_only() {
    let app = spawn_app().await;
    let admin = app.register("Oversight school").await;
    let teacher = app.invite(&admin, "teacher").await;
    let mine = app.invite(&admin, "student").await;
    let theirs = app.invite(&admin, "student").await;
    let persona: Value =
        app.post_as("/api/v1/personas", &admin.access_token, &json!({ "name": "Tutor" })).await.json().await.unwrap();
    let persona = persona["id"].as_str().unwrap();
    let mut sessions = Vec::new();
    for student in [&mine, &theirs] {
        let session = crate::chat::new_session(&app, student, persona).await;
        let asked = crate::chat::ask(&app, student, &session, "What is a cell?").await;
        assert_eq!(asked.status(), 200);
        sessions.push(session);
    }
    let org_list = |user: &TestUser| {
        let (app, token) = (&app, user.access_token.clone());
        async move {
            let list: Value = app.get_as("/api/v1/sessions?scope=org", &token).await.json().await.unwrap();
            list["items"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert!(org_list(&teacher).await.is_empty(), "a teacher without classes reads nobody's conversations");
    assert_eq!(org_list(&admin).await.len(), 2, "admins read every one");

    create(&app, &teacher, json!({ "name": "Biology", "student_ids": [mine.id] })).await;
    assert_eq!(org_list(&teacher).await, [sessions[0].clone()]);
    let read = app.get_as(&format!("/api/v1/sessions/{}/messages", sessions[0]), &teacher.access_token).await;
    assert_eq!(read.status(), 200);
    let other = app.get_as(&format!("/api/v1/sessions/{}/messages", sessions[1]), &teacher.access_token).await;
    assert_error(other, 404, "not_found").await;
}
