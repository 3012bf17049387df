//! Ingest under attack and under failure, through the real upload path: hostile files end `failed` with a
//! stable code while the server carries on, and an ingest job killed mid-way runs again to `ready`.

use std::io::{Cursor, Write};
use std::time::Duration;

use bwenge::platform::jobs::{JobStatus, Worker};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::fake_embeddings::FakeEmbeddings;
use crate::helpers::{TestApp, TestUser, spawn_app_with};
use crate::ingest::{create_collection, ingest, upload, wait_finished};

/// The same builders the extractor's unit tests use, so both suites attack with identical files.
#[path = "../../src/ingest/pipeline/extract/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

/// A DOCX whose `word/document.xml` inflates to 300 MB from well under 2 MB on the wire.
fn docx_zip_bomb() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    writer.start_file("[Content_Types].xml", options).unwrap();
    writer.write_all(b"<Types/>").unwrap();
    writer.start_file("word/document.xml", options).unwrap();
    let block = vec![b'a'; 1 << 20];
    for _ in 0..300 {
        writer.write_all(&block).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[tokio::test]
async fn encrypted_pdfs_zip_bombs_and_pdfs_of_thousands_of_pages_fail_and_the_rest_carry_on() {
    let app = spawn_app_with(|_| {}).await;
    let teacher = app.register("Attack school").await;
    let collection = create_collection(&app, &teacher, "C").await;
    let thousands_of_pages = {
        let mut doc = fixtures::pdf_doc(3000, |i| format!("page {i}"));
        fixtures::save(&mut doc)
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("locked.pdf", fixtures::encrypted_pdf(), "encrypted_pdf"),
        ("bomb.docx", docx_zip_bomb(), "zip_bomb"),
        ("huge.pdf", thousands_of_pages, "too_many_pages"),
    ];
    // All three at once: the workers and the server must take them side by side.
    let mut ids = Vec::new();
    for (name, bytes, code) in cases {
        let response = upload(&app, &teacher, &collection, name, bytes).await;
        assert_eq!(response.status(), 202, "{name}");
        let doc: Value = response.json().await.unwrap();
        ids.push((name, doc["id"].as_str().unwrap().to_owned(), code));
    }
    for (name, id, code) in ids {
        let done = wait_finished(&app, &teacher, &id).await;
        assert_eq!(done["status"], "failed", "{name}: {done}");
        assert_eq!(done["error_code"], code, "{name}: {done}");
        assert!(!done["error"].as_str().unwrap().is_empty(), "{name}: {done}");
    }
    let fine =
        ingest(&app, &teacher, &collection, "notes.txt", b"Photosynthesis turns light into sugar.".to_vec()).await;
    assert_eq!(fine["status"], "ready");
    assert_eq!(app.get("/readyz").await.status(), 200);
}

/// Enough text that extraction, chunking and embedding take a while, so the kill lands mid-way.
fn long_lecture() -> Vec<u8> {
    (0..1500)
        .map(|i| format!("Paragraph {i} explains how rivers carve valleys over thousands of years of erosion.\n\n"))
        .collect::<String>()
        .into_bytes()
}

async fn document(app: &TestApp, user: &TestUser, id: &str) -> Value {
    app.get_as(&format!("/api/v1/documents/{id}"), &user.access_token).await.json().await.unwrap()
}

pub async fn chunk_rows(app: &TestApp, id: &str) -> i64 {
    let document: uuid::Uuid = id.parse().unwrap();
    let query = Query::select()
        .expr_as(Expr::col(Alias::new("id")).count(), Alias::new("n"))
        .from(Alias::new("chunks"))
        .and_where(Expr::col(Alias::new("document_id")).eq(document))
        .to_owned();
    let row = app.backends.db.query_one(&query).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

fn real_worker(app: &TestApp, name: &str) -> Worker {
    Worker::new(name.into(), app.backends.jobs.clone(), app.jobs.clone(), None)
}

#[tokio::test]
async fn an_ingest_job_killed_mid_way_runs_again_to_ready_without_duplicate_chunks() {
    // No background workers: this test plays both processes itself. Its embedding service answers the first batch
    // and holds the second, so "process A" dies with part of the document written, every time.
    let embeddings = FakeEmbeddings::start().await;
    let app = spawn_app_with(|s| {
        s.jobs.workers = 0;
        s.jobs.lease_secs = 1;
        embeddings.configure(s);
    })
    .await;
    let teacher = app.register("Crash school").await;
    let collection = create_collection(&app, &teacher, "C").await;
    let response = upload(&app, &teacher, &collection, "rivers.txt", long_lecture()).await;
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    embeddings.hold_after(1);
    let asked = embeddings.asked();
    let doomed = real_worker(&app, "process-a");
    let running = tokio::spawn(async move { doomed.run_one(&CancellationToken::new()).await });
    tokio::time::timeout(Duration::from_secs(60), asked).await.expect("the second batch is asked for");
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled(), "process A finished before it could be killed");
    let written = chunk_rows(&app, &id).await;
    assert!(written > 0, "process A was killed after it wrote its first batch");
    embeddings.release();
    let stranded = document(&app, &teacher, &id).await;
    assert_eq!(stranded["status"], "processing", "stays processing until the lease expires: {stranded}");

    // "Process B" picks the job up once the dead worker's lease runs out, and finishes it.
    let survivor = real_worker(&app, "process-b");
    let mut rerun = None;
    for _ in 0..200 {
        if let Some((job, outcome)) = survivor.run_one(&CancellationToken::new()).await.unwrap() {
            rerun = Some((job, outcome));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (job, _) = rerun.expect("the job never ran again");
    assert_eq!(job.attempts, 2, "the killed run counted as an attempt");
    assert_eq!(app.backends.jobs.get(job.id).await.unwrap().unwrap().status, JobStatus::Succeeded);
    let done = document(&app, &teacher, &id).await;
    assert_eq!(done["status"], "ready", "{done}");
    assert_eq!(done["progress"], 100, "{done}");
    // The rerun replaced whatever the first run had written instead of adding to it: rows and vectors are those of
    // one clean run of the same text.
    let chunks = done["chunk_count"].as_i64().unwrap();
    assert!(chunks > 10, "{done}");
    assert_eq!(chunk_rows(&app, &id).await, chunks);
    let clean = upload(&app, &teacher, &collection, "rivers-again.txt", long_lecture()).await;
    let clean_id = clean.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let clean_worker = real_worker(&app, "process-c");
    while clean_worker.run_one(&CancellationToken::new()).await.unwrap().is_some() {}
    assert_eq!(document(&app, &teacher, &clean_id).await["status"], "ready");
    assert_eq!(vector_count(&app, &teacher, &id).await, vector_count(&app, &teacher, &clean_id).await);
}

async fn vector_count(app: &TestApp, user: &TestUser, document: &str) -> u64 {
    let org = uuid::Uuid::parse_str(&user.org_id).unwrap();
    let doc = uuid::Uuid::parse_str(document).unwrap();
    let filter = bwenge::platform::vectors::VectorFilter::org(org).with_documents([doc]);
    app.backends.vectors.count(&filter).await.unwrap()
}
