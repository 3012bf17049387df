//! The published OpenAPI document as a contract SDK generators can use: unique readable operation ids, a summary
//! and a tag on every operation, a description on every response, the shared errors, the upload's body, the
//! WebSocket's frames, and the security schemes. (`.ci/run` also validates it with `openapi-spec-validator`.)

use std::collections::BTreeMap;

use serde_json::Value;

use crate::helpers::spawn_app;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn operations(doc: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                found.push((format!("{} {path}", method.to_uppercase()), op));
            }
        }
    }
    found
}

#[tokio::test]
async fn every_operation_has_a_unique_readable_id_a_summary_a_tag_and_described_responses() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_default().to_owned();
        let readable = id.len() > 3 && id.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if !readable {
            problems.push(format!("{name}: operationId {id:?} is not snake_case words"));
        }
        if let Some(other) = ids.insert(id.clone(), name.clone()) {
            problems.push(format!("{name}: operationId {id:?} is also {other}'s"));
        }
        if op["summary"].as_str().is_none_or(str::is_empty) {
            problems.push(format!("{name}: no summary"));
        }
        if op["tags"].as_array().is_none_or(Vec::is_empty) {
            problems.push(format!("{name}: no tag"));
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            if response["description"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{name}: response {status} has no description"));
            }
        }
        if op.get("security").is_some() {
            for status in ["401", "429"] {
                if op["responses"][status].is_null() {
                    problems.push(format!("{name}: secured but {status} is not documented"));
                }
            }
        }
        if op["requestBody"]["content"]["application/json"].is_object() {
            for status in ["400", "413", "415", "422"] {
                if op["responses"][status].is_null() {
                    problems.push(format!("{name}: takes JSON but {status} is not documented"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(ids.len() > 30, "{ids:?}");
    for id in ["list_collections", "create_persona", "upload_document", "send_message", "open_chat_socket"] {
        assert!(ids.contains_key(id), "{id} missing: {ids:?}");
    }
}

#[tokio::test]
async fn the_document_carries_the_upload_body_the_socket_frames_and_the_security_schemes() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let upload = &doc["paths"]["/api/v1/collections/{id}/documents"]["post"]["requestBody"]["content"];
    let schema = &upload["multipart/form-data"]["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(reference) => &doc["components"]["schemas"][reference.rsplit('/').next().unwrap()],
        None => schema,
    };
    assert_eq!(schema["properties"]["file"]["format"], "binary", "upload body: {schema}");
    assert_eq!(schema["required"], serde_json::json!(["file"]), "upload body: {schema}");

    let schemas = &doc["components"]["schemas"];
    let frames = |name: &str| -> Vec<String> {
        let variants = schemas[name]["oneOf"].as_array().unwrap_or_else(|| panic!("{name}: {}", schemas[name]));
        variants.iter().filter_map(frame_type).collect()
    };
    let client = frames("ClientFrame");
    for frame in ["session.open", "message.send", "typing", "message.cancel", "ping", "auth"] {
        assert!(client.iter().any(|f| f == frame), "client frame {frame} undocumented: {client:?}");
    }
    let server = frames("ServerFrame");
    for frame in ["session.ready", "message.accepted", "answer.delta", "avatar.cue", "answer.done", "error", "pong"] {
        assert!(server.iter().any(|f| f == frame), "server frame {frame} undocumented: {server:?}");
    }
    let security = &doc["components"]["securitySchemes"];
    assert_eq!(security["bearer"]["scheme"], "bearer");
    assert_eq!(security["api_key"]["scheme"], "bearer");
    let register = &doc["components"]["schemas"]["RegisterRequest"]["properties"];
    assert_eq!(register["email"]["format"], "email");
    assert_eq!(register["password"]["minLength"], 10);
    assert_eq!(register["org_name"]["maxLength"], 200);
}

/// The `type` a frame variant's schema fixes, whether inline or inside an `allOf`.
fn frame_type(variant: &Value) -> Option<String> {
    if let Some(name) = variant["properties"]["type"]["enum"][0].as_str() {
        return Some(name.to_owned());
    }
    variant["allOf"].as_array()?.iter().find_map(frame_type)
}
