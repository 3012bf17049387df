//! Models that must be refused, each with its own code and nothing stored: corrupt files, a buffer declared far
//! larger than the bytes sent, an accessor past its data, URIs that leave the file, files that are not models.

use base64::Engine;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::avatars::upload_avatar;
use crate::helpers::{assert_error, spawn_app, spawn_app_with};

/// A binary glTF: the 12-byte header, the JSON chunk (space-padded), the BIN chunk (zero-padded).
fn glb(document: &Value, bin: &[u8]) -> Vec<u8> {
    let mut json = serde_json::to_vec(document).unwrap();
    json.resize(json.len().div_ceil(4) * 4, b' ');
    let mut body = bin.to_vec();
    body.resize(body.len().div_ceil(4) * 4, 0);
    let total = 12 + 8 + json.len() + if body.is_empty() { 0 } else { 8 + body.len() };
    let mut out = b"glTF".to_vec();
    for word in [2u32, total as u32, json.len() as u32] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&json);
    if !body.is_empty() {
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(b"BIN\0");
        out.extend_from_slice(&body);
    }
    out
}

/// One triangle; `buffer` is the buffer's JSON (its length, and for a .gltf its URI).
fn triangle(buffer: Value, count: u32) -> Value {
    json!({
        "asset": { "version": "2.0" },
        "scene": 0,
        "scenes": [{ "nodes": [0] }],
        "nodes": [{ "mesh": 0 }],
        "meshes": [{ "primitives": [{ "attributes": { "POSITION": 0 } }] }],
        "accessors": [{ "bufferView": 0, "componentType": 5126, "count": count, "type": "VEC3",
                        "min": [0.0, 0.0, 0.0], "max": [1.0, 1.0, 0.0] }],
        "bufferViews": [{ "buffer": 0, "byteLength": 36 }],
        "buffers": [buffer],
    })
}

fn positions() -> Vec<u8> {
    [0f32, 0., 0., 1., 0., 0., 0., 1., 0.].iter().flat_map(|f| f.to_le_bytes()).collect()
}

fn data_uri(bytes: &[u8]) -> String {
    format!("data:application/octet-stream;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

#[tokio::test]
async fn hostile_and_broken_models_are_refused_with_a_code_each() {
    let app = spawn_app().await;
    let teacher = app.register("Hostile avatars school").await;

    // The builder makes valid models, so each refusal below is for its one defect.
    let fine = glb(&triangle(json!({ "byteLength": 36 }), 3), &positions());
    let response = upload_avatar(&app, &teacher, "triangle.glb", fine).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let embedded = triangle(json!({ "byteLength": 36, "uri": data_uri(&positions()) }), 3);
    let response = upload_avatar(&app, &teacher, "triangle.gltf", serde_json::to_vec(&embedded).unwrap()).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    assert_eq!(response.json::<Value>().await.unwrap()["format"], "gltf");

    let mut truncated = glb(&triangle(json!({ "byteLength": 36 }), 3), &positions());
    truncated.truncate(40);
    let mut garbage = b"glTF".to_vec();
    garbage.extend((0..500u32).map(|i| (i * 7919 % 251) as u8));
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("truncated.glb", truncated, 422, "invalid_model"),
        ("garbage.glb", garbage, 422, "invalid_model"),
        ("words.glb", b"this is not a model at all".to_vec(), 422, "invalid_model"),
        ("huge.glb", glb(&triangle(json!({ "byteLength": 4_294_967_295u64 }), 3), &positions()), 422, "invalid_model"),
        ("overread.glb", glb(&triangle(json!({ "byteLength": 36 }), 1000), &positions()), 422, "invalid_model"),
        ("notes.txt", b"photosynthesis".to_vec(), 415, "unsupported_type"),
        ("empty.glb", Vec::new(), 422, "empty_file"),
    ];
    for (name, bytes, status, code) in cases {
        let body = assert_error(upload_avatar(&app, &teacher, name, bytes).await, status, code).await;
        assert!(!body["error"]["message"].as_str().unwrap().is_empty(), "{name}");
    }

    // URIs that leave the file: a local file, the network, a relative path; in a buffer or an image.
    for uri in ["file:///etc/passwd", "http://169.254.169.254/latest/meta-data", "https://example.org/a.bin", "a.bin"] {
        let model = triangle(json!({ "byteLength": 36, "uri": uri }), 3);
        let response = upload_avatar(&app, &teacher, "outside.gltf", serde_json::to_vec(&model).unwrap()).await;
        let body = assert_error(response, 422, "external_uri").await;
        assert!(body["error"]["message"].as_str().unwrap().contains(&uri[..4]), "{body}");
    }
    let mut with_image = triangle(json!({ "byteLength": 36, "uri": data_uri(&positions()) }), 3);
    with_image["images"] = json!([{ "uri": "http://tracker.example.org/pixel.png" }]);
    let response = upload_avatar(&app, &teacher, "image.gltf", serde_json::to_vec(&with_image).unwrap()).await;
    assert_error(response, 422, "external_uri").await;

    // No `file` field at all.
    let form = Form::new().part("other", Part::bytes(b"x".to_vec()).file_name("x.glb"));
    let response =
        app.client.post(app.url("/api/v1/avatars")).bearer_auth(&teacher.access_token).multipart(form).send().await;
    assert_error(response.unwrap(), 422, "invalid_request").await;

    // Nothing refused was stored; the sample and the two triangles are all there is.
    let list: Value = app.get_as("/api/v1/avatars", &teacher.access_token).await.json().await.unwrap();
    assert_eq!(list["total"], 3, "{list}");
}

#[tokio::test]
async fn an_upload_over_the_size_limit_is_refused_before_it_is_read_whole() {
    let app = spawn_app_with(|s| s.avatars.max_upload_bytes = 10_000).await;
    let teacher = app.register("Small avatars school").await;
    let big = glb(&triangle(json!({ "byteLength": 36 }), 3), &[0u8; 20_000]);
    assert_error(upload_avatar(&app, &teacher, "big.glb", big).await, 413, "payload_too_large").await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
}
