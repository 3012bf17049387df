//! Avatars through the HTTP API: the sample every org is offered, upload, list, get, the cue mapping, the persona
//! link, cue events naming the mapped clip, signed links (byte-identical, ranges, revalidation, tampered and
//! expired), delete while in use, and other orgs' avatars.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::chat::{QUESTION, class, spawn_with_llm, sse_events};
use crate::fake_llm::{FakeLlm, Script};
use crate::helpers::{TestApp, TestUser, assert_error, spawn_app, spawn_app_with};

pub const SAMPLE: &[u8] = include_bytes!("../../assets/avatars/sample.glb");

pub async fn upload_avatar(app: &TestApp, user: &TestUser, file_name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(file_name.to_owned()));
    app.client.post(app.url("/api/v1/avatars")).bearer_auth(&user.access_token).multipart(form).send().await.unwrap()
}

/// The id of the org's sample avatar (the first listing offers it).
pub async fn sample_avatar(app: &TestApp, user: &TestUser) -> String {
    let list: Value = app.get_as("/api/v1/avatars", &user.access_token).await.json().await.unwrap();
    let sample = list["items"].as_array().unwrap().iter().find(|a| a["sample"] == true).expect("a sample avatar");
    sample["id"].as_str().unwrap().to_owned()
}

async fn get_avatar(app: &TestApp, user: &TestUser, id: &str) -> reqwest::Response {
    app.get_as(&format!("/api/v1/avatars/{id}"), &user.access_token).await
}

async fn put_mapping(app: &TestApp, user: &TestUser, id: &str, mapping: Value) -> reqwest::Response {
    let body = json!({ "mapping": mapping });
    app.send(Method::PUT, &format!("/api/v1/avatars/{id}/mapping"), Some(&user.access_token), Some(&body)).await
}

fn clip_names(avatar: &Value) -> Vec<&str> {
    avatar["animations"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn every_org_is_offered_the_sample_avatar_once() {
    let app = spawn_app().await;
    let teacher = app.register("Sample school").await;
    let student = app.invite(&teacher, "student").await;
    let list: Value = app.get_as("/api/v1/avatars", &student.access_token).await.json().await.unwrap();
    assert_eq!(list["total"], 1, "{list}");
    let sample = &list["items"][0];
    assert_eq!((sample["name"].as_str(), sample["sample"].as_bool()), (Some("Sample tutor"), Some(true)));
    assert_eq!(sample["format"], "glb");
    let mut clips = clip_names(sample);
    clips.sort_unstable();
    assert_eq!(clips, ["idle", "nod", "talk", "think", "wave"]);
    assert!(sample["animations"].as_array().unwrap().iter().all(|c| c["duration_secs"].as_f64().unwrap() > 0.5));
    let morphs: Vec<&str> = sample["morph_targets"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert!(morphs.contains(&"mouthOpen"), "{morphs:?}");
    assert_eq!(sample["stats"]["skins"], 1);
    let height =
        sample["stats"]["bounds"]["max"][1].as_f64().unwrap() - sample["stats"]["bounds"]["min"][1].as_f64().unwrap();
    assert!((1.0..2.5).contains(&height), "a figure of human height: {height}");
    assert_eq!(
        sample["mapping"],
        json!({"celebrate": "nod", "encourage": "nod", "explain": "talk", "greet": "wave", "idle": "idle",
               "think": "think"}),
        "guessed from the clip names"
    );

    // Deleted, it stays deleted.
    let id = sample["id"].as_str().unwrap();
    let response = app.send(Method::DELETE, &format!("/api/v1/avatars/{id}"), Some(&teacher.access_token), None).await;
    assert_eq!(response.status(), 204);
    let list: Value = app.get_as("/api/v1/avatars", &teacher.access_token).await.json().await.unwrap();
    assert_eq!(list["total"], 0, "{list}");
}

#[tokio::test]
async fn an_uploaded_model_is_described_mapped_and_served_by_signed_link() {
    let app = spawn_app().await;
    let teacher = app.register("Avatar school").await;
    let student = app.invite(&teacher, "student").await;
    let form =
        Form::new().part("file", Part::bytes(SAMPLE.to_vec()).file_name("owl.glb")).text("name", "Professor Owl");
    let response =
        app.client.post(app.url("/api/v1/avatars")).bearer_auth(&teacher.access_token).multipart(form).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!((created["name"].as_str(), created["file_name"].as_str()), (Some("Professor Owl"), Some("owl.glb")));
    assert_eq!((created["sample"].as_bool(), created["size_bytes"].as_u64()), (Some(false), Some(SAMPLE.len() as u64)));
    assert!(
        created["stats"]["vertices"].as_u64().unwrap() > 50 && created["stats"]["triangles"].as_u64().unwrap() > 50
    );

    // Students read it, with a link of their own.
    let fetched: Value = get_avatar(&app, &student, &id).await.json().await.unwrap();
    assert_eq!(fetched["mapping"], created["mapping"]);
    let url = fetched["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/api/v1/assets/") && url.contains("&sig="), "{url}");

    // The link needs no token and serves the very bytes.
    let file = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(file.status(), 200);
    let headers = file.headers().clone();
    assert_eq!(headers["content-type"], "model/gltf-binary");
    assert_eq!(headers["accept-ranges"], "bytes");
    let cache = headers["cache-control"].to_str().unwrap();
    assert!(cache.starts_with("private, max-age=") && cache.ends_with("immutable"), "{cache}");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(file.bytes().await.unwrap().as_ref(), SAMPLE, "byte-identical");
    let again = app.client.get(app.url(&url)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);

    let part = app.client.get(app.url(&url)).header("range", "bytes=4-11").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], format!("bytes 4-11/{}", SAMPLE.len()).as_str());
    assert_eq!(part.bytes().await.unwrap().as_ref(), &SAMPLE[4..12]);
    let tail = app.client.get(app.url(&url)).header("range", "bytes=-4").send().await.unwrap();
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &SAMPLE[SAMPLE.len() - 4..]);
    let past = app.client.get(app.url(&url)).header("range", format!("bytes={}-", SAMPLE.len())).send().await;
    assert_error(past.unwrap(), 416, "range_not_satisfiable").await;

    // Tampered: another key, a later expiry, a changed signature.
    let other_key = url.replace(&format!("{id}.glb"), &format!("{}.glb", uuid::Uuid::new_v4()));
    let (head, sig) = url.split_once("&sig=").unwrap();
    let expires: i64 = head.rsplit_once("expires=").unwrap().1.parse().unwrap();
    let later = url.replace(&format!("expires={expires}"), &format!("expires={}", expires + 3600));
    let flipped = format!("{head}&sig={}{}", if sig.starts_with('0') { "1" } else { "0" }, &sig[1..]);
    for bad in [other_key, later, flipped, head.to_owned()] {
        let response = app.client.get(app.url(&bad)).send().await.unwrap();
        let status = response.status().as_u16();
        assert!(status == 403 || status == 400, "{bad}: {status}");
        if status == 403 {
            assert_error(response, 403, "invalid_signature").await;
        }
    }

    // Expired: a link signed with the server's own key, an hour ago.
    let key_file = app.settings.server.data_dir.join("secrets/assets.key");
    let signer = bwenge::platform::signing::LinkSigner::new(std::fs::read(key_file).unwrap()).unwrap();
    let key = url.trim_start_matches("/api/v1/assets/").split_once('?').unwrap().0;
    let then = chrono::Utc::now().timestamp() - 3600;
    let expired = format!("/api/v1/assets/{key}?expires={then}&sig={}", signer.sign(key, then));
    assert_error(app.client.get(app.url(&expired)).send().await.unwrap(), 403, "link_expired").await;

    // The mapping: valid, a clip the model lacks, a cue that does not exist, students may not write.
    let mapping = json!({ "greet": "nod", "idle": "idle", "think": "think" });
    let response = put_mapping(&app, &teacher, &id, mapping.clone()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["mapping"], mapping);
    let bad_clip =
        assert_error(put_mapping(&app, &teacher, &id, json!({ "greet": "Moonwalk" })).await, 422, "unknown_clip");
    assert!(bad_clip.await["error"]["message"].as_str().unwrap().contains("Moonwalk"));
    assert_error(put_mapping(&app, &teacher, &id, json!({ "juggle": "wave" })).await, 422, "unknown_cue").await;
    assert_error(put_mapping(&app, &student, &id, json!({})).await, 403, "forbidden").await;
    let fetched: Value = get_avatar(&app, &teacher, &id).await.json().await.unwrap();
    assert_eq!(fetched["mapping"], mapping, "refused changes changed nothing");

    let list: Value = app.get_as("/api/v1/avatars?per_page=1", &teacher.access_token).await.json().await.unwrap();
    assert_eq!((list["total"].as_u64(), list["items"].as_array().unwrap().len()), (Some(2), 1), "{list}");
}

#[tokio::test]
async fn a_linked_avatar_is_checked_named_in_cues_and_kept_until_forced() {
    let fake = FakeLlm::start(vec![Script::stream(&["Sugar ", "[cue:encourage]", "comes from light [2]."])]).await;
    let app = spawn_with_llm(&fake, |_| {}).await;
    let class = class(&app).await;
    let teacher = &class.teacher;
    let avatar = sample_avatar(&app, teacher).await;
    let persona_path = format!("/api/v1/personas/{}", class.persona);

    // Only the org's own avatars link.
    let stranger = app.register("Stranger school").await;
    let theirs = sample_avatar(&app, &stranger).await;
    for bad in [theirs.clone(), uuid::Uuid::new_v4().to_string()] {
        let body = json!({ "avatar_id": bad });
        let response = app.send(Method::PATCH, &persona_path, Some(&teacher.access_token), Some(&body)).await;
        assert_error(response, 422, "unknown_avatar").await;
    }
    let body = json!({ "avatar_id": avatar });
    let response = app.send(Method::PATCH, &persona_path, Some(&teacher.access_token), Some(&body)).await;
    assert_eq!(response.status(), 200);

    // Each cue of the answer names the clip the avatar's mapping gives it.
    let response = app
        .client
        .post(app.url(&format!("/api/v1/sessions/{}/messages", class.session)))
        .bearer_auth(&class.student.access_token)
        .header("accept", "text/event-stream")
        .json(&json!({ "content": QUESTION }))
        .send()
        .await
        .unwrap();
    let events = sse_events(&response.text().await.unwrap());
    let cues: Vec<(&str, Option<&str>)> = events
        .iter()
        .filter(|(e, _)| e == "avatar.cue")
        .map(|(_, d)| (d["cue"].as_str().unwrap(), d["clip"].as_str()))
        .collect();
    assert_eq!(
        cues,
        [("think", Some("think")), ("explain", Some("talk")), ("encourage", Some("nod")), ("idle", Some("idle"))]
    );

    // Another org can neither read, map nor delete it.
    for (method, path) in [
        (Method::GET, format!("/api/v1/avatars/{avatar}")),
        (Method::PUT, format!("/api/v1/avatars/{avatar}/mapping")),
        (Method::DELETE, format!("/api/v1/avatars/{avatar}?force=true")),
    ] {
        let body = json!({ "mapping": {} });
        let response = app.send(method, &path, Some(&stranger.access_token), Some(&body)).await;
        assert_error(response, 404, "not_found").await;
    }

    // In use: refused, naming the tutor; forced: unlinked and deleted.
    let delete = format!("/api/v1/avatars/{avatar}");
    let refused =
        assert_error(app.send(Method::DELETE, &delete, Some(&teacher.access_token), None).await, 409, "avatar_in_use");
    assert!(refused.await["error"]["message"].as_str().unwrap().contains("Professor Leaf"));
    let forced = app.send(Method::DELETE, &format!("{delete}?force=true"), Some(&teacher.access_token), None).await;
    assert_eq!(forced.status(), 204);
    let persona: Value = app.get_as(&persona_path, &teacher.access_token).await.json().await.unwrap();
    assert_eq!(persona["avatar_id"], Value::Null, "unlinked");
    assert_error(get_avatar(&app, teacher, &avatar).await, 404, "not_found").await;
    let audit: Value =
        app.get_as("/api/v1/audit?action=avatar.deleted", &teacher.access_token).await.json().await.unwrap();
    assert_eq!(audit["items"][0]["target_id"], avatar.as_str(), "{audit}");
}

#[tokio::test]
async fn a_model_over_the_configured_limits_is_refused() {
    let app = spawn_app_with(|s| s.avatars.max_vertices = 100).await;
    let teacher = app.register("Limits school").await;
    let body = assert_error(upload_avatar(&app, &teacher, "big.glb", SAMPLE.to_vec()).await, 422, "model_too_large");
    assert!(body.await["error"]["message"].as_str().unwrap().contains("vertices"));
    // The sample is offered all the same: the project's own model, whatever limits a school sets for uploads.
    let list: Value = app.get_as("/api/v1/avatars", &teacher.access_token).await.json().await.unwrap();
    assert_eq!(list["total"], 1, "{list}");
}

#[tokio::test]
async fn behind_a_cdn_links_point_at_it_and_may_be_kept_there() {
    let app = spawn_app_with(|s| {
        s.assets.base_url = "https://cdn.example.org".into();
        s.assets.url_ttl_secs = 120;
    })
    .await;
    let teacher = app.register("CDN school").await;
    let list: Value = app.get_as("/api/v1/avatars", &teacher.access_token).await.json().await.unwrap();
    let url = list["items"][0]["url"].as_str().unwrap();
    let path = url.strip_prefix("https://cdn.example.org").unwrap_or_else(|| panic!("{url}"));
    let expires = chrono::DateTime::parse_from_rfc3339(list["items"][0]["url_expires_at"].as_str().unwrap()).unwrap();
    let left = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!((100..=200).contains(&left), "about url_ttl_secs: {left}");
    // The CDN forwards the path here; the answer may be cached by it.
    let file = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(file.status(), 200);
    assert!(file.headers()["cache-control"].to_str().unwrap().starts_with("public, max-age="));
}

/// The checked-in sample is exactly what its script makes: it can be rebuilt and reviewed, never hand-edited.
#[test]
fn the_sample_avatar_is_what_its_script_makes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new("python3")
        .args(["scripts/make-sample-avatar.py", "--check"])
        .current_dir(root)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
