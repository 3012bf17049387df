//! Personas through the HTTP API: create, read, update, delete, validation codes, pagination, what students
//! see, and what happens when a collection a persona names is deleted.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_error, spawn_app};
use crate::ingest::create_collection;

async fn create(app: &TestApp, user: &TestUser, body: Value) -> reqwest::Response {
    app.post_as("/api/v1/personas", &user.access_token, &body).await
}

async fn create_ok(app: &TestApp, user: &TestUser, body: Value) -> Value {
    let response = create(app, user, body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn patch(app: &TestApp, user: &TestUser, id: &str, body: Value) -> reqwest::Response {
    app.send(Method::PATCH, &format!("/api/v1/personas/{id}"), Some(&user.access_token), Some(&body)).await
}

async fn get(app: &TestApp, user: &TestUser, id: &str) -> reqwest::Response {
    app.get_as(&format!("/api/v1/personas/{id}"), &user.access_token).await
}

#[tokio::test]
async fn teachers_create_read_update_and_delete_personas() {
    let app = spawn_app().await;
    let admin = app.register("Persona school").await;
    let teacher = app.invite(&admin, "teacher").await;
    let biology = create_collection(&app, &teacher, "Biology").await;
    let chemistry = create_collection(&app, &teacher, "Chemistry").await;
    let avatar = crate::avatars::sample_avatar(&app, &teacher).await;

    let created = create_ok(
        &app,
        &teacher,
        json!({
            "name": "  Professor Leaf ",
            "description": "Answers questions on plants",
            "tone": "warm, encouraging",
            "instructions": "Never give the answer to exercise 3 directly.",
            "teaching_mode": "socratic",
            "greeting": "Hello! What are we growing today?",
            "collection_ids": [biology, chemistry, biology],
            "avatar_id": avatar,
            "model": "gpt-4o-mini",
            "temperature": 0.2,
            "max_tokens": 600
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "Professor Leaf", "trimmed");
    assert_eq!(created["teaching_mode"], "socratic");
    assert_eq!(created["collection_ids"], json!([biology, chemistry]), "order kept, duplicate dropped");
    assert_eq!(created["avatar_id"], avatar.as_str());
    assert_eq!(created["instructions"], "Never give the answer to exercise 3 directly.");
    assert_eq!((created["temperature"].as_f64(), created["max_tokens"].as_u64()), (Some(0.2), Some(600)));

    let fetched: Value = get(&app, &admin, &id).await.json().await.unwrap();
    assert_eq!(fetched, created, "what was created is what is read");

    let response = patch(
        &app,
        &teacher,
        &id,
        json!({ "teaching_mode": "direct", "model": null, "collection_ids": [chemistry], "tone": "brisk" }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["teaching_mode"], "direct");
    assert_eq!(updated["model"], Value::Null, "null clears the model: the server default");
    assert_eq!(updated["collection_ids"], json!([chemistry]));
    assert_eq!(updated["tone"], "brisk");
    assert_eq!(updated["name"], "Professor Leaf", "absent fields are kept");
    assert_eq!(updated["avatar_id"], avatar.as_str());
    assert_eq!(updated["max_tokens"], 600);
    assert_eq!(get(&app, &teacher, &id).await.json::<Value>().await.unwrap(), updated);

    let response = app.send(Method::DELETE, &format!("/api/v1/personas/{id}"), Some(&teacher.access_token), None).await;
    assert_eq!(response.status(), 204);
    assert_error(get(&app, &teacher, &id).await, 404, "not_found").await;
    let audit: Value =
        app.get_as("/api/v1/audit?action=persona.deleted", &admin.access_token).await.json().await.unwrap();
    assert_eq!(audit["items"][0]["target_id"], id.as_str(), "{audit}");
    assert_eq!(audit["items"][0]["actor_id"], teacher.id.as_str());
}

#[tokio::test]
async fn invalid_fields_answer_422_with_a_code_per_rule() {
    let app = spawn_app().await;
    let teacher = app.register("Validation school").await;
    let cases = [
        (json!({ "name": "   " }), "field_required"),
        (json!({ "name": "x".repeat(121) }), "field_too_long"),
        (json!({ "name": "Ok", "greeting": "x".repeat(1001) }), "field_too_long"),
        (json!({ "name": "Ok", "temperature": 2.5 }), "out_of_range"),
        (json!({ "name": "Ok", "temperature": -1 }), "out_of_range"),
        (json!({ "name": "Ok", "max_tokens": 0 }), "out_of_range"),
        (json!({ "name": "Ok", "max_tokens": 100000 }), "out_of_range"),
        (json!({ "name": "Ok", "teaching_mode": "lecture" }), "invalid_body"),
        (json!({ "name": "Ok", "collection_ids": [uuid::Uuid::new_v4()] }), "unknown_collection"),
        (json!({ "description": "no name" }), "invalid_body"),
    ];
    for (body, code) in cases {
        let response = create(&app, &teacher, body.clone()).await;
        let error = assert_error(response, 422, code).await;
        println!("{code}: {}", error["error"]["message"]);
    }
    let list: Value = app.get_as("/api/v1/personas", &teacher.access_token).await.json().await.unwrap();
    assert_eq!(list["total"], 0, "nothing invalid was stored");

    // An update is checked the same way, and a rejected one changes nothing.
    let persona = create_ok(&app, &teacher, json!({ "name": "Valid" })).await;
    let id = persona["id"].as_str().unwrap();
    assert_error(patch(&app, &teacher, id, json!({ "temperature": 9 })).await, 422, "out_of_range").await;
    assert_error(patch(&app, &teacher, id, json!({ "name": "" })).await, 422, "field_required").await;
    assert_eq!(get(&app, &teacher, id).await.json::<Value>().await.unwrap(), persona);
}

#[tokio::test]
async fn a_collection_of_another_org_is_rejected() {
    let app = spawn_app().await;
    let ours = app.register("Our school").await;
    let theirs = app.register("Their school").await;
    let their_collection = create_collection(&app, &theirs, "Their notes").await;
    let our_collection = create_collection(&app, &ours, "Our notes").await;
    let response =
        create(&app, &ours, json!({ "name": "Spy", "collection_ids": [our_collection, their_collection] })).await;
    let body = assert_error(response, 422, "unknown_collection").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&their_collection) && !message.contains(&our_collection), "{message}");

    let persona = create_ok(&app, &ours, json!({ "name": "Honest", "collection_ids": [our_collection] })).await;
    let response =
        patch(&app, &ours, persona["id"].as_str().unwrap(), json!({ "collection_ids": [their_collection] })).await;
    assert_error(response, 422, "unknown_collection").await;
}

#[tokio::test]
async fn lists_are_paginated_by_name_and_scoped_to_the_org() {
    let app = spawn_app().await;
    let teacher = app.register("Paging school").await;
    for name in ["Cleo", "Ada", "Bea"] {
        create_ok(&app, &teacher, json!({ "name": name })).await;
    }
    let first: Value = app.get_as("/api/v1/personas?per_page=2", &teacher.access_token).await.json().await.unwrap();
    let names = |page: &Value| page["items"].as_array().unwrap().iter().map(|p| p["name"].clone()).collect::<Vec<_>>();
    assert_eq!(names(&first), [json!("Ada"), json!("Bea")]);
    assert_eq!(
        (first["total"].as_u64(), first["page"].as_u64(), first["per_page"].as_u64()),
        (Some(3), Some(1), Some(2))
    );
    let second: Value =
        app.get_as("/api/v1/personas?per_page=2&page=2", &teacher.access_token).await.json().await.unwrap();
    assert_eq!(names(&second), [json!("Cleo")]);

    let other = app.register("Other school").await;
    let theirs: Value = app.get_as("/api/v1/personas", &other.access_token).await.json().await.unwrap();
    assert_eq!(theirs["total"], 0);
    assert_eq!(theirs["items"], json!([]));
}

#[tokio::test]
async fn students_read_personas_without_instructions_and_cannot_write() {
    let app = spawn_app().await;
    let admin = app.register("Student school").await;
    let student = app.invite(&admin, "student").await;
    let persona =
        create_ok(&app, &admin, json!({ "name": "Tutor", "instructions": "Reveal-the-secret-answer." })).await;
    let id = persona["id"].as_str().unwrap();

    let seen: Value = get(&app, &student, id).await.json().await.unwrap();
    assert_eq!(seen["name"], "Tutor");
    assert!(seen.get("instructions").is_none(), "{seen}");
    let list: Value = app.get_as("/api/v1/personas", &student.access_token).await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    assert!(list["items"][0].get("instructions").is_none());
    assert!(!list.to_string().contains("Reveal-the-secret-answer"), "{list}");

    assert_error(create(&app, &student, json!({ "name": "Mine" })).await, 403, "forbidden").await;
    assert_error(patch(&app, &student, id, json!({ "name": "Hacked" })).await, 403, "forbidden").await;
    let response = app.send(Method::DELETE, &format!("/api/v1/personas/{id}"), Some(&student.access_token), None).await;
    assert_error(response, 403, "forbidden").await;
    assert_eq!(get(&app, &admin, id).await.json::<Value>().await.unwrap(), persona, "unchanged");
}

#[tokio::test]
async fn deleting_a_collection_removes_it_from_the_personas_that_name_it() {
    let app = spawn_app().await;
    let teacher = app.register("Cascade school").await;
    let kept = create_collection(&app, &teacher, "Kept").await;
    let doomed = create_collection(&app, &teacher, "Doomed").await;
    let persona = create_ok(&app, &teacher, json!({ "name": "Tutor", "collection_ids": [doomed, kept] })).await;
    let response =
        app.send(Method::DELETE, &format!("/api/v1/collections/{doomed}"), Some(&teacher.access_token), None).await;
    assert_eq!(response.status(), 204);
    let after: Value = get(&app, &teacher, persona["id"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(after["collection_ids"], json!([kept]));
}
