//! Audio and video through the real ffmpeg and an in-process OpenAI-compatible `/audio/transcriptions` server.
//! The media is generated here with ffmpeg's `lavfi` sources (`.ci/run` installs ffmpeg).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_multipart::Multipart;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use futures_util::TryStreamExt;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, spawn_app_with};
use crate::ingest::{create_collection, ingest, upload, wait_finished};

const MODEL: &str = "whisper-test";

/// The fake transcription endpoint: checks the request the way OpenAI would, answers `verbose_json` with two
/// segments per call ("Part N ..."), and counts calls.
struct FakeWhisper {
    calls: AtomicUsize,
    fail_with_500: bool,
}

async fn transcriptions(fake: web::Data<FakeWhisper>, request: HttpRequest, mut form: Multipart) -> HttpResponse {
    let call = fake.calls.fetch_add(1, Ordering::SeqCst);
    // A sized body, not a chunked one: minimal servers cannot read chunked uploads.
    let sized = request.headers().contains_key("content-length");
    let (mut model, mut format, mut file) = (String::new(), String::new(), None);
    while let Some(mut field) = form.try_next().await.unwrap() {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.content_disposition().and_then(|cd| cd.get_filename()).unwrap_or_default().to_owned();
        let mut data = Vec::new();
        while let Some(chunk) = field.try_next().await.unwrap() {
            data.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "model" => model = String::from_utf8(data).unwrap(),
            "response_format" => format = String::from_utf8(data).unwrap(),
            "file" => file = Some((filename, data)),
            _ => {}
        }
    }
    if fake.fail_with_500 {
        return HttpResponse::InternalServerError().body("upstream exploded");
    }
    let refuse = |message: String| {
        HttpResponse::BadRequest().json(json!({ "error": { "message": message, "type": "invalid_request_error" } }))
    };
    if !sized {
        return refuse("a chunked body".into());
    }
    if model != MODEL {
        return refuse(format!("model {model:?}"));
    }
    if format != "verbose_json" {
        return refuse(format!("response_format {format:?}"));
    }
    match &file {
        Some((name, data)) if name.ends_with(".flac") && data.starts_with(b"fLaC") && data.len() > 1000 => {}
        other => return refuse(format!("file {:?}", other.as_ref().map(|(n, d)| (n, d.len())))),
    }
    HttpResponse::Ok().json(json!({
        "task": "transcribe", "language": "english", "duration": 3.0,
        "text": format!("Part {call} opens. Part {call} explains photosynthesis in green leaves."),
        "segments": [
            { "id": 0, "seek": 0, "start": 0.5, "end": 2.0, "text": format!(" Part {call} opens."),
              "tokens": [1], "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.2, "no_speech_prob": 0.0 },
            // whisper.cpp-style: fewer fields.
            { "id": 1, "start": 2.0, "end": 4.0,
              "text": format!(" Part {call} explains photosynthesis in green leaves.") }
        ],
        "usage": { "type": "duration", "seconds": 3 }
    }))
}

/// Starts the fake on port 0; returns it and its API root.
fn fake_whisper(fail_with_500: bool) -> (Arc<FakeWhisper>, String) {
    let fake = web::Data::new(FakeWhisper { calls: AtomicUsize::new(0), fail_with_500 });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let data = fake.clone();
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).route("/v1/audio/transcriptions", web::post().to(transcriptions))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .disable_signals()
    .run();
    tokio::spawn(server);
    (fake.into_inner(), format!("http://127.0.0.1:{port}/v1"))
}

async fn app_with_whisper(
    fail: bool,
    customize: impl FnOnce(&mut bwenge::config::Settings),
) -> (TestApp, Arc<FakeWhisper>) {
    let (fake, base_url) = fake_whisper(fail);
    let app = spawn_app_with(|s| {
        s.transcription.base_url = base_url;
        s.transcription.model = MODEL.into();
        customize(s);
    })
    .await;
    (app, fake)
}

/// `ffmpeg -f lavfi ...` into `dir/name`.
fn generate(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg is installed (apt-get install ffmpeg)");
    assert!(status.success(), "ffmpeg generating {name}");
    out
}

fn tone(dir: &Path, name: &str, secs: u32) -> Vec<u8> {
    std::fs::read(generate(dir, name, &["-f", "lavfi", "-i", &format!("sine=frequency=440:duration={secs}")])).unwrap()
}

fn video(dir: &Path, name: &str, with_audio: bool) -> Vec<u8> {
    let mut args = vec!["-f", "lavfi", "-i", "testsrc=duration=3:size=160x120:rate=10"];
    if with_audio {
        args.extend(["-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-shortest"]);
    } else {
        args.push("-an");
    }
    args.extend(["-pix_fmt", "yuv420p"]);
    std::fs::read(generate(dir, name, &args)).unwrap()
}

async fn search(app: &TestApp, user: &TestUser, query: &str) -> Vec<Value> {
    let response = app
        .post_as("/api/v1/search", &user.access_token, &json!({ "query": query, "collection_ids": [], "top_k": 10 }))
        .await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["results"].as_array().unwrap().clone()
}

#[tokio::test]
async fn audio_and_video_formats_are_transcribed_into_timed_searchable_chunks() {
    let (app, fake) = app_with_whisper(false, |_| {}).await;
    let teacher = app.register("Media school").await;
    let collection = create_collection(&app, &teacher, "Lectures").await;
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("lecture.wav", tone(dir.path(), "a.wav", 3), "audio"),
        ("lecture.mp3", tone(dir.path(), "a.mp3", 3), "audio"),
        ("lecture.m4a", tone(dir.path(), "a.m4a", 3), "audio"),
        ("lecture.ogg", tone(dir.path(), "a.ogg", 3), "audio"),
        ("voice-note.webm", tone(dir.path(), "a.webm", 3), "audio"),
        ("lecture.mp4", video(dir.path(), "v.mp4", true), "video"),
        ("lecture.webm", video(dir.path(), "v.webm", true), "video"),
        ("lecture.mov", video(dir.path(), "v.mov", true), "video"),
    ];
    for (name, bytes, kind) in files {
        let doc = ingest(&app, &teacher, &collection, name, bytes).await;
        assert_eq!(doc["status"], "ready", "{name}: {doc}");
        assert_eq!(doc["kind"], kind, "{name}");
        assert!(doc["chunk_count"].as_i64().unwrap() >= 1, "{name}");
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 8, "one request per (short) recording");

    let hits = search(&app, &teacher, "photosynthesis in green leaves").await;
    assert!(!hits.is_empty());
    for hit in &hits {
        assert!(hit["text"].as_str().unwrap().contains("photosynthesis"), "{hit}");
        assert_eq!(hit["start_ms"], 500, "the first segment's start: {hit}");
        // The second segment says 4.0 s, but the recording is 3 s long: clamped to the piece's end.
        let end = hit["end_ms"].as_i64().unwrap();
        assert!((2900..=3100).contains(&end), "{hit}");
    }
    let ready: Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["checks"]["transcription"]["backend"], format!("openai:{MODEL}"));
}

#[tokio::test]
async fn long_audio_is_split_and_timestamps_follow_the_recording() {
    let (app, fake) = app_with_whisper(false, |s| s.transcription.segment_secs = 10).await;
    let teacher = app.register("Long lecture school").await;
    let collection = create_collection(&app, &teacher, "Lectures").await;
    let dir = tempfile::tempdir().unwrap();
    let doc = ingest(&app, &teacher, &collection, "long.mp3", tone(dir.path(), "long.mp3", 25)).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3, "25 s in 10 s pieces");

    let hits = search(&app, &teacher, "Part 2 explains photosynthesis").await;
    let all: String = hits.iter().map(|h| h["text"].as_str().unwrap()).collect::<Vec<_>>().join(" ");
    for part in 0..3 {
        assert!(all.contains(&format!("Part {part} opens.")), "piece {part} transcribed: {all}");
    }
    // The short transcript is one chunk: from piece 0's first segment (0.5 s) to piece 2's last, which ends
    // 4 s into a piece that starts 20 s into the recording.
    let hit = hits.iter().find(|h| h["text"].as_str().unwrap().contains("Part 2 explains")).unwrap();
    assert_eq!(hit["start_ms"], 500, "{hit}");
    let end = hit["end_ms"].as_i64().unwrap();
    assert!((23_900..=24_100).contains(&end), "offset by the third piece's start: {hit}");
}

#[tokio::test]
async fn a_video_with_no_audio_track_fails_and_the_rest_carry_on() {
    let (app, fake) = app_with_whisper(false, |_| {}).await;
    let teacher = app.register("Silent film school").await;
    let collection = create_collection(&app, &teacher, "Lectures").await;
    let dir = tempfile::tempdir().unwrap();
    // Uploaded together, so they are processed side by side.
    let silent = upload(&app, &teacher, &collection, "silent.mp4", video(dir.path(), "silent.mp4", false)).await;
    let spoken = upload(&app, &teacher, &collection, "spoken.wav", tone(dir.path(), "spoken.wav", 3)).await;
    let silent: Value = silent.json().await.unwrap();
    let spoken: Value = spoken.json().await.unwrap();
    let silent = wait_finished(&app, &teacher, silent["id"].as_str().unwrap()).await;
    let spoken = wait_finished(&app, &teacher, spoken["id"].as_str().unwrap()).await;
    assert_eq!(silent["status"], "failed", "{silent}");
    assert_eq!(silent["error_code"], "no_audio_track");
    assert!(silent["error"].as_str().unwrap().contains("no audio track"), "{silent}");
    assert_eq!(spoken["status"], "ready", "{spoken}");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1, "nothing sent for the silent video");
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn a_failing_provider_fails_the_document_after_the_jobs_retries() {
    let (app, fake) = app_with_whisper(true, |s| {
        s.jobs.max_attempts = 2;
        s.jobs.backoff_base_ms = 50;
    })
    .await;
    let teacher = app.register("Outage school").await;
    let collection = create_collection(&app, &teacher, "Lectures").await;
    let dir = tempfile::tempdir().unwrap();
    let doc = ingest(&app, &teacher, &collection, "lecture.wav", tone(dir.path(), "a.wav", 2)).await;
    assert_eq!(doc["status"], "failed", "{doc}");
    assert_eq!(doc["error_code"], "transcription_failed");
    let message = doc["error"].as_str().unwrap();
    assert!(message.contains("HTTP 500") && message.contains("reprocess"), "{message}");
    assert!(!message.contains("exploded"), "the endpoint's own words stay in the log: {message}");
    // Both job attempts reached the server, each sending the request 4 times: async-openai's retry layer
    // repeats a 5xx 3 times (100-400 ms apart) before the job sees the failure.
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2 * 4);
    let fine = ingest(&app, &teacher, &collection, "notes.txt", b"Notes on loops and ranges.".to_vec()).await;
    assert_eq!(fine["status"], "ready");
}

#[tokio::test]
async fn missing_ffmpeg_or_provider_fail_with_a_code_that_says_what_to_install_or_set() {
    let (app, fake) = app_with_whisper(false, |s| s.transcription.ffprobe = "/nonexistent/bin/ffprobe".into()).await;
    let teacher = app.register("No ffmpeg school").await;
    let collection = create_collection(&app, &teacher, "Lectures").await;
    let dir = tempfile::tempdir().unwrap();
    let wav = tone(dir.path(), "a.wav", 2);
    let doc = ingest(&app, &teacher, &collection, "lecture.wav", wav.clone()).await;
    assert_eq!(doc["error_code"], "ffmpeg_unavailable", "{doc}");
    assert!(doc["error"].as_str().unwrap().contains("apt-get install ffmpeg"), "{doc}");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);

    let app = spawn_app_with(|_| {}).await;
    let teacher = app.register("No provider school").await;
    let collection = create_collection(&app, &teacher, "Lectures").await;
    let doc = ingest(&app, &teacher, &collection, "lecture.wav", wav).await;
    assert_eq!(doc["error_code"], "transcription_unavailable", "{doc}");
    assert!(doc["error"].as_str().unwrap().contains("transcription.base_url"), "{doc}");
    let ready: Value = app.get("/readyz").await.json().await.unwrap();
    assert!(ready["checks"]["transcription"]["warning"].as_str().unwrap().contains("transcription.base_url"));
}
