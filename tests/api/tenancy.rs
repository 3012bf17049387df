//! Isolation and roles, checked over the route list the server publishes in `/api/openapi.json`, so routes
//! added later are covered without editing these tests (their objects go in `helpers::seed_org`).

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, seed_org, spawn_app};

struct Operation {
    method: Method,
    path: String,
    min_role: Option<String>,
    body: Option<Value>,
}

/// Every authenticated operation in the published document.
async fn operations(app: &TestApp) -> Vec<Operation> {
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_none() {
                continue; // public: sign-in, invitation acceptance by its secret token, ops endpoints
            }
            let body = op["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .map(|schema| example(&doc, &Value::Object(schema.clone())));
            found.push(Operation {
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                min_role: op["x-min-role"].as_str().map(str::to_owned),
                body,
            });
        }
    }
    found
}

/// A value valid for `schema`'s required fields, so a body check never answers before the route's own.
fn example(doc: &Value, schema: &Value) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return example(doc, &doc["components"]["schemas"][name]);
    }
    if let Some(variants) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        return example(doc, &variants[0]);
    }
    if let Some(values) = schema["enum"].as_array() {
        return values[0].clone();
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds.iter().find(|k| *k != "null").cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    match kind.as_str() {
        Some("object") => {
            let mut object = serde_json::Map::new();
            for field in schema["required"].as_array().into_iter().flatten() {
                let name = field.as_str().unwrap();
                object.insert(name.into(), example(doc, &schema["properties"][name]));
            }
            Value::Object(object)
        }
        Some("string") if schema["format"] == "uuid" => json!(uuid::Uuid::new_v4()),
        Some("string") if schema["format"] == "email" => json!("someone@example.org"),
        Some("string") => json!("example value"),
        Some("integer") | Some("number") => json!(1),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        _ => json!({}),
    }
}

/// The path with each `{param}` replaced by the seeded id of the kind named by the segment before it.
fn fill(path: &str, ids: &HashMap<&'static str, String>) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let filled: Vec<String> = segments
        .iter()
        .enumerate()
        .map(|(i, segment)| {
            if segment.starts_with('{') {
                let kind = segments[i - 1];
                ids.get(kind)
                    .cloned()
                    .unwrap_or_else(|| panic!("no seeded object for `{kind}` in {path}: add one to helpers::seed_org"))
            } else {
                (*segment).to_owned()
            }
        })
        .collect();
    filled.join("/")
}

#[tokio::test]
async fn another_orgs_ids_answer_404_with_no_data_on_every_route() {
    let app = spawn_app().await;
    let owner = app.register("Owner school").await;
    let ids = seed_org(&app, &owner).await;
    let intruder = app.register("Other school").await;
    let mut checked = Vec::new();
    for op in operations(&app).await.into_iter().filter(|op| op.path.contains('{')) {
        let path = fill(&op.path, &ids);
        let response = app.send(op.method.clone(), &path, Some(&intruder.access_token), op.body.as_ref()).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 404, "{} {} as another org answered {status}: {text}", op.method, op.path);
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{}", op.path);
        for id in ids.values() {
            assert!(!text.contains(id.as_str()), "{} {} leaked an id: {text}", op.method, op.path);
        }
        checked.push(format!("{} {}", op.method, op.path));
    }
    assert!(checked.len() >= 4, "too few routes with ids: {checked:?}");

    // Nothing the intruder sent changed the owner's objects.
    let teacher = app.get_as(&format!("/api/v1/users/{}", ids["users"]), &owner.access_token).await;
    assert_eq!(teacher.status(), 200);
    let keys: Value = app.get_as("/api/v1/api-keys", &owner.access_token).await.json().await.unwrap();
    assert!(keys.as_array().unwrap().iter().any(|k| k["id"] == ids["api-keys"].as_str()));
}

#[tokio::test]
async fn every_authenticated_route_declares_its_minimum_role() {
    let app = spawn_app().await;
    let undeclared: Vec<String> = operations(&app)
        .await
        .into_iter()
        .filter(|op| !matches!(op.min_role.as_deref(), Some("student" | "teacher" | "admin")))
        .map(|op| format!("{} {}", op.method, op.path))
        .collect();
    assert!(undeclared.is_empty(), "add extensions((\"x-min-role\" = ...)) to: {undeclared:?}");
}

#[tokio::test]
async fn students_get_403_on_every_route_above_their_role_reads_included() {
    let app = spawn_app().await;
    let admin = app.register("Roles school").await;
    let ids = seed_org(&app, &admin).await;
    let student = app.invite(&admin, "student").await;
    let teacher = app.invite(&admin, "teacher").await;
    let mut checked = Vec::new();
    for op in operations(&app).await {
        let min = op.min_role.as_deref().unwrap_or("student");
        // Who is below the route: a student for staff routes, a teacher too for admin routes.
        let below: Vec<(&str, &str)> = match min {
            "teacher" => vec![("student", student.access_token.as_str())],
            "admin" => vec![("student", &student.access_token), ("teacher", &teacher.access_token)],
            _ => continue,
        };
        let path = fill(&op.path, &ids);
        for (who, token) in below {
            let response = app.send(op.method.clone(), &path, Some(token), op.body.as_ref()).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert_eq!(status, 403, "{} {} as a {who} answered {status}: {text}", op.method, op.path);
            checked.push(format!("{} {} as {who}", op.method, op.path));
        }
    }
    for read in ["GET /api/v1/audit as student", "GET /api/v1/users as student", "GET /api/v1/api-keys as teacher"] {
        assert!(checked.iter().any(|c| c == read), "{read} not walked: {checked:?}");
    }
    // The student's own routes still work.
    assert_eq!(app.get_as("/api/v1/auth/me", &student.access_token).await.status(), 200);
}
