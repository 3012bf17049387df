//! Collections, uploads, processing, search, delete, reprocess, hostile files: through the HTTP API, with the
//! app's own job workers doing the processing.

use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_error, spawn_app};

pub async fn create_collection(app: &TestApp, user: &TestUser, name: &str) -> String {
    let response = app.post_as("/api/v1/collections", &user.access_token, &json!({ "name": name })).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

pub async fn upload(app: &TestApp, user: &TestUser, collection: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned()));
    app.client
        .post(app.url(&format!("/api/v1/collections/{collection}/documents")))
        .bearer_auth(&user.access_token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Uploads and waits for the document to finish (ready or failed); returns its final state.
pub async fn ingest(app: &TestApp, user: &TestUser, collection: &str, name: &str, bytes: Vec<u8>) -> Value {
    let response = upload(app, user, collection, name, bytes).await;
    assert_eq!(response.status(), 202, "upload {name}: {}", response.text().await.unwrap());
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["status"], "queued");
    wait_finished(app, user, doc["id"].as_str().unwrap()).await
}

pub async fn wait_finished(app: &TestApp, user: &TestUser, id: &str) -> Value {
    for _ in 0..600 {
        let doc: Value = app.get_as(&format!("/api/v1/documents/{id}"), &user.access_token).await.json().await.unwrap();
        if matches!(doc["status"].as_str(), Some("ready" | "failed")) {
            return doc;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("document {id} never finished");
}

async fn search(app: &TestApp, user: &TestUser, query: &str, collections: &[&str]) -> Value {
    let response = app
        .post_as(
            "/api/v1/search",
            &user.access_token,
            &json!({ "query": query, "collection_ids": collections, "top_k": 5 }),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

const LOOPS: &str = "# Control flow\n\n## The for statement\n\nThe range() function comes in handy to iterate over a \
    sequence of numbers. It generates arithmetic progressions.\n\n## Pass\n\nThe pass statement does nothing.";
const JSON_DOC: &str = "The json module can serialise Python objects to text and parse them back.";

#[tokio::test]
async fn text_and_markdown_become_searchable_with_their_headings() {
    let app = spawn_app().await;
    let teacher = app.register("Ingest school").await;
    let collection = create_collection(&app, &teacher, "Python").await;
    let doc = ingest(&app, &teacher, &collection, "control_flow.md", LOOPS.as_bytes().to_vec()).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    assert_eq!(doc["kind"], "markdown");
    assert_eq!(doc["progress"], 100);
    assert!(doc["chunk_count"].as_i64().unwrap() >= 1);
    let other = ingest(&app, &teacher, &collection, "json.txt", JSON_DOC.as_bytes().to_vec()).await;
    assert_eq!(other["status"], "ready");

    let found = search(&app, &teacher, "how do I loop over numbers with range", &[&collection]).await;
    let top = &found["results"][0];
    assert_eq!(top["document_id"], doc["id"], "{found}");
    assert_eq!(top["document_name"], "control_flow.md");
    assert!(top["text"].as_str().unwrap().contains("range()"));
    assert!(top["heading_path"].as_str().unwrap().contains("The for statement"), "{top}");
    let found = search(&app, &teacher, "parse JSON text", &[]).await;
    assert_eq!(found["results"][0]["document_id"], other["id"]);
}

#[tokio::test]
async fn relevance_is_an_absolute_cosine_that_ranks_the_matching_sentence_first() {
    let app = spawn_app().await;
    if !app.has_embeddings() {
        println!("no embedding model on this machine: relevance needs one");
        return;
    }
    let teacher = app.register("Relevance school").await;
    let collection = create_collection(&app, &teacher, "Mixed").await;
    // Long enough for sentence windows: the answer is one sentence among others about something else.
    let volcanoes = "Volcanoes erupt when magma rises through the crust. Lava, ash and gas escape through vents. \
        Basalt forms when lava cools quickly. Some volcanoes sleep for centuries. The range() function yields a \
        sequence of numbers for a loop. Geologists watch the ground swell before an eruption.";
    let doc = ingest(&app, &teacher, &collection, "earth.txt", volcanoes.as_bytes().to_vec()).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    ingest(&app, &teacher, &collection, "json.txt", JSON_DOC.as_bytes().to_vec()).await;

    let on_topic = search(&app, &teacher, "How does a volcano erupt?", &[&collection]).await;
    let off_topic = search(&app, &teacher, "What is the capital of France?", &[&collection]).await;
    let best = |found: &Value| found["results"][0]["relevance"].as_f64().unwrap();
    for found in [&on_topic, &off_topic] {
        assert_eq!(found["mode"], "hybrid");
        let nearest = found["relevance"].as_f64().unwrap();
        for hit in found["results"].as_array().unwrap() {
            let r = hit["relevance"].as_f64().unwrap();
            assert!((-1.0..=1.0).contains(&r), "a cosine: {hit}");
            assert!(r <= nearest, "the response's relevance is the nearest of all: {found}");
        }
    }
    assert_eq!(on_topic["results"][0]["document_id"], doc["id"]);
    assert!(best(&on_topic) > 0.5, "{on_topic}");
    assert!(best(&off_topic) < 0.3, "{off_topic}");
    // A question about the one odd sentence still finds it, less surely than the text's own subject.
    let loop_question = search(&app, &teacher, "How do I get a sequence of numbers for a loop?", &[&collection]).await;
    assert_eq!(loop_question["results"][0]["document_id"], doc["id"]);
    assert!((best(&off_topic)..best(&on_topic)).contains(&best(&loop_question)), "{loop_question}");
}

#[tokio::test]
async fn search_names_the_query_words_no_chunk_of_the_org_contains() {
    let app = spawn_app().await;
    let teacher = app.register("Words school").await;
    let other = app.register("Other words school").await;
    let collection = create_collection(&app, &teacher, "Earth").await;
    let theirs = create_collection(&app, &other, "Space").await;
    let volcanoes = "Volcanoes erupt when magma rises through the crust. Lava cools into basalt.";
    assert_eq!(ingest(&app, &teacher, &collection, "earth.txt", volcanoes.into()).await["status"], "ready");
    let jupiter = "Jupiter is a gas giant; its moon Io has active volcanoes.";
    assert_eq!(ingest(&app, &other, &theirs, "space.txt", jupiter.into()).await["status"], "ready");

    // Stemmed like the material ("erupts" finds "erupt"), stopwords never count, and another org's words are not
    // this org's: "jupiter" is in the other school's material only.
    let covered = search(&app, &teacher, "Why does a volcano's magma erupt?", &[&collection]).await;
    assert_eq!(covered["unmatched"], json!([]), "{covered}");
    let beyond = search(&app, &teacher, "Do volcanoes erupt on Jupiter?", &[&collection]).await;
    assert_eq!(beyond["unmatched"], json!(["jupiter"]), "{beyond}");
    let elsewhere = search(&app, &teacher, "How do I open a window with tkinter?", &[&collection]).await;
    assert_eq!(elsewhere["unmatched"], json!(["open", "window", "tkinter"]), "{elsewhere}");
    if !app.has_embeddings() {
        assert_eq!(beyond["unmatched_weight"], Value::Null, "sparse mode has no embedding to weigh words with");
        return;
    }
    let weight = |found: &Value| found["unmatched_weight"].as_f64().unwrap();
    assert_eq!(weight(&covered), 0.0);
    // The thing asked about moves the question's embedding more than a word on the side of it; a question made
    // of nothing but unmatched words is all about them.
    assert!(0.0 < weight(&beyond) && weight(&beyond) < weight(&elsewhere), "{beyond} {elsewhere}");
    let nothing_else = search(&app, &teacher, "tkinter pytest?", &[&collection]).await;
    assert_eq!(weight(&nothing_else), 1.0, "{nothing_else}");
}

#[tokio::test]
async fn search_never_crosses_organisations_or_collections() {
    let app = spawn_app().await;
    let a = app.register("School A").await;
    let b = app.register("School B").await;
    let a_coll = create_collection(&app, &a, "A").await;
    let a_other = create_collection(&app, &a, "A2").await;
    let b_coll = create_collection(&app, &b, "B").await;
    // A has one loosely matching note; B has hundreds of chunks that match the query far better. Only the vector
    // store's own org filter keeps B's points out of A's candidate lists: were it missing, they would fill them, and
    // the database's second check would leave A with nothing.
    ingest(&app, &a, &a_coll, "notes.md", b"Counting sheep: a range of numbers helps some people sleep.".to_vec())
        .await;
    // One short section a chunk (a chunk never crosses a heading): many points, quick to embed.
    let crowd: String = (0..260)
        .map(|i| format!("## Lesson {i}\n\nThe range function returns numbers: range(n) counts numbers.\n\n"))
        .collect();
    let b_doc = ingest(&app, &b, &b_coll, "range.md", crowd.into_bytes()).await;
    assert!(b_doc["chunk_count"].as_i64().unwrap() > 250, "more of B's chunks than any candidate pool: {b_doc}");
    let found = search(&app, &a, "range function numbers", &[]).await;
    let results = found["results"].as_array().unwrap();
    assert!(!results.is_empty(), "A still finds its own note among B's crowd: {found}");
    assert!(results.iter().all(|r| r["document_name"] == "notes.md"), "{found}");
    let found = search(&app, &b, "sheep sleep", &[]).await;
    assert!(found["results"].as_array().unwrap().iter().all(|r| r["document_name"] == "range.md"), "{found}");
    let response =
        app.post_as("/api/v1/search", &b.access_token, &json!({ "query": "range", "collection_ids": [a_coll] })).await;
    assert_error(response, 404, "not_found").await;
    let narrowed = search(&app, &a, "range function numbers", &[&a_other]).await;
    assert_eq!(narrowed["results"].as_array().unwrap().len(), 0, "filtered to the asked collection");
}

#[tokio::test]
async fn delete_removes_the_document_its_chunks_and_vectors() {
    let app = spawn_app().await;
    let teacher = app.register("Deleting school").await;
    let collection = create_collection(&app, &teacher, "C").await;
    let doc = ingest(&app, &teacher, &collection, "loops.md", LOOPS.as_bytes().to_vec()).await;
    let id = doc["id"].as_str().unwrap();
    assert!(!search(&app, &teacher, "range numbers", &[]).await["results"].as_array().unwrap().is_empty());
    let deleted = app.send(Method::DELETE, &format!("/api/v1/documents/{id}"), Some(&teacher.access_token), None).await;
    assert_eq!(deleted.status(), 204);
    assert_error(app.get_as(&format!("/api/v1/documents/{id}"), &teacher.access_token).await, 404, "not_found").await;
    assert!(search(&app, &teacher, "range numbers", &[]).await["results"].as_array().unwrap().is_empty());
    let org = uuid::Uuid::parse_str(&teacher.org_id).unwrap();
    let filter = bwenge::platform::vectors::VectorFilter::org(org);
    assert_eq!(app.backends.vectors.count(&filter).await.unwrap(), 0, "no vectors left behind");
}

#[tokio::test]
async fn reprocess_runs_the_pipeline_again() {
    let app = spawn_app().await;
    let teacher = app.register("Reprocess school").await;
    let collection = create_collection(&app, &teacher, "C").await;
    let doc = ingest(&app, &teacher, &collection, "loops.md", LOOPS.as_bytes().to_vec()).await;
    let id = doc["id"].as_str().unwrap();
    let stored = || async {
        let doc_id = uuid::Uuid::parse_str(id).unwrap();
        let org = uuid::Uuid::parse_str(&teacher.org_id).unwrap();
        let filter = bwenge::platform::vectors::VectorFilter::org(org).with_documents([doc_id]);
        (crate::ingest_hostile::chunk_rows(&app, id).await, app.backends.vectors.count(&filter).await.unwrap())
    };
    let (rows, vectors) = stored().await;
    assert_eq!(rows, doc["chunk_count"].as_i64().unwrap());
    let again = app.post_as(&format!("/api/v1/documents/{id}/reprocess"), &teacher.access_token, &json!({})).await;
    assert_eq!(again.status(), 202);
    let done = wait_finished(&app, &teacher, id).await;
    assert_eq!(done["status"], "ready");
    assert_eq!(done["chunk_count"], doc["chunk_count"]);
    // What is stored, not what the run counted: a rerun replaces every row and point, never adds to them.
    assert_eq!(stored().await, (rows, vectors), "chunk rows and vectors after the rerun");
    let found = search(&app, &teacher, "range numbers", &[]).await;
    let ids: Vec<&str> = found["results"].as_array().unwrap().iter().map(|r| r["chunk_id"].as_str().unwrap()).collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len());
}

#[tokio::test]
async fn hostile_or_unusable_files_fail_with_a_clear_code_and_the_rest_carry_on() {
    let app = spawn_app().await;
    let teacher = app.register("Hostile school").await;
    let collection = create_collection(&app, &teacher, "C").await;
    let junk: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut corrupt_docx = b"PK\x03\x04".to_vec();
    corrupt_docx.extend_from_slice(&[0u8; 64]);
    let wav = {
        let mut w = b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec();
        w.extend_from_slice(&[16, 0, 0, 0, 1, 0, 1, 0, 0x80, 0x3e, 0, 0, 0, 0x7d, 0, 0, 2, 0, 16, 0]);
        w.extend_from_slice(b"data\x00\x00\x00\x00");
        w
    };
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("blank.txt", b"  \n\n\t ".to_vec(), &["empty_document"]),
        ("junk.txt", junk, &["not_text", "unsupported_type"]),
        ("corrupt.docx", corrupt_docx, &["corrupt_docx", "unsupported_type"]),
        (
            "fake.pdf",
            b"this is not a pdf at all, just words".to_vec(),
            &["type_mismatch", "unreadable_pdf", "unsupported_type"],
        ),
        ("lecture.wav", wav, &["transcription_unavailable"]),
    ];
    for (name, bytes, codes) in cases {
        let response = upload(&app, &teacher, &collection, name, bytes).await;
        if response.status() == 415 {
            assert!(codes.contains(&"unsupported_type"), "{name} refused at upload");
            assert_error(response, 415, "unsupported_type").await;
            continue;
        }
        assert_eq!(response.status(), 202, "{name}");
        let doc: Value = response.json().await.unwrap();
        let done = wait_finished(&app, &teacher, doc["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "failed", "{name}: {done}");
        let code = done["error_code"].as_str().unwrap();
        assert!(codes.contains(&code), "{name} failed with {code}: {done}");
        assert!(!done["error"].as_str().unwrap().is_empty());
    }
    // The server and the other documents carry on.
    let fine = ingest(&app, &teacher, &collection, "loops.md", LOOPS.as_bytes().to_vec()).await;
    assert_eq!(fine["status"], "ready");
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn an_executable_is_refused_at_upload_and_oversized_uploads_are_413() {
    let app = crate::helpers::spawn_app_with(|s| s.ingest.max_upload_bytes = 10_000).await;
    let teacher = app.register("Limits school").await;
    let collection = create_collection(&app, &teacher, "C").await;
    let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
    elf.extend_from_slice(&[0u8; 256]);
    assert_error(upload(&app, &teacher, &collection, "setup.exe", elf).await, 415, "unsupported_type").await;
    // What can be known from the bytes is answered at once, not with a 202 and a failure later.
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    png.extend((0..512u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8));
    assert_error(upload(&app, &teacher, &collection, "notes.txt", png).await, 415, "unsupported_type").await;
    assert_error(upload(&app, &teacher, &collection, "empty.txt", Vec::new()).await, 422, "empty_file").await;
    let big = vec![b'a'; 20_000];
    assert_error(upload(&app, &teacher, &collection, "big.txt", big).await, 413, "payload_too_large").await;
    let listed: Value = app
        .get_as(&format!("/api/v1/collections/{collection}/documents"), &teacher.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 0, "refused uploads leave nothing behind");
}

#[tokio::test]
async fn progress_streams_as_server_sent_events_until_ready() {
    let app = spawn_app().await;
    let teacher = app.register("Events school").await;
    let collection = create_collection(&app, &teacher, "C").await;
    let response = upload(&app, &teacher, &collection, "loops.md", LOOPS.as_bytes().to_vec()).await;
    let doc: Value = response.json().await.unwrap();
    let id = doc["id"].as_str().unwrap();
    let events = app.get_as(&format!("/api/v1/documents/{id}/events"), &teacher.access_token).await;
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let body = tokio::time::timeout(Duration::from_secs(60), events.text()).await.expect("the stream ends").unwrap();
    let statuses: Vec<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str::<Value>(d).unwrap()["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses.last().map(String::as_str), Some("ready"), "{body}");
}

#[tokio::test]
async fn collections_are_listed_renamed_and_deleted_with_their_documents() {
    let app = spawn_app().await;
    let teacher = app.register("Collections school").await;
    let first = create_collection(&app, &teacher, "Biology").await;
    create_collection(&app, &teacher, "Algebra").await;
    let listed: Value = app.get_as("/api/v1/collections?per_page=1", &teacher.access_token).await.json().await.unwrap();
    assert_eq!(listed["total"], 2);
    assert_eq!(listed["items"][0]["name"], "Algebra");
    let renamed = app
        .send(
            Method::PATCH,
            &format!("/api/v1/collections/{first}"),
            Some(&teacher.access_token),
            Some(&json!({ "name": "Life sciences" })),
        )
        .await;
    assert_eq!(renamed.json::<Value>().await.unwrap()["name"], "Life sciences");
    let doc = ingest(&app, &teacher, &first, "loops.md", LOOPS.as_bytes().to_vec()).await;
    let deleted =
        app.send(Method::DELETE, &format!("/api/v1/collections/{first}"), Some(&teacher.access_token), None).await;
    assert_eq!(deleted.status(), 204);
    let gone = app.get_as(&format!("/api/v1/documents/{}", doc["id"].as_str().unwrap()), &teacher.access_token).await;
    assert_error(gone, 404, "not_found").await;
    assert!(search(&app, &teacher, "range numbers", &[]).await["results"].as_array().unwrap().is_empty());
}

/// Small to big: a hit comes back joined with the chunks around it in its own section, and not across a heading.
#[tokio::test]
async fn a_hit_returns_its_neighbours_within_its_section() {
    let app = spawn_app().await;
    let teacher = app.register("Passage school").await;
    let collection = create_collection(&app, &teacher, "Geography").await;
    // Paragraphs of ~115 words: one chunk cannot hold both paragraphs around the one a search finds.
    let filler = "The river carries sediment downstream and shapes the valley floor over many seasons. ".repeat(8);
    let mut text = String::from("# Rivers\n\n");
    for i in 1..=4 {
        let lead = if i == 3 { "A delta forms where a river meets the sea and drops its sand." } else { "" };
        text.push_str(&format!("Rivermark{i} opens this paragraph. {lead} {filler}\n\n"));
    }
    text.push_str(&format!("# Mountains\n\nSummitmark opens the next section. {filler}\n"));
    let doc = ingest(&app, &teacher, &collection, "geography.md", text.into_bytes()).await;
    assert_eq!(doc["status"], "ready", "{doc}");
    assert!(doc["chunk_count"].as_i64().unwrap() >= 3, "{doc}");

    let found = search(&app, &teacher, "rivermark3: where does a river form a delta?", &[&collection]).await;
    let top = found["results"][0]["text"].as_str().unwrap();
    assert!(top.contains("Rivermark3"), "the hit itself: {found}");
    assert!(top.contains("Rivermark2") && top.contains("Rivermark4"), "its neighbours either side: {top}");
    assert!(!top.contains("Summitmark"), "not past its section: {top}");
}
