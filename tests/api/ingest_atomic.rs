//! Ingest never leaves half a document: an upload stores its row and its job together (or neither, and no file), a
//! deletion stops the document's running job before it writes again, and the orphan sweep removes whatever a crash
//! between steps left behind.

use std::time::{Duration, SystemTime};

use bwenge::platform::jobs::{JobStatus, NewJob};
use bwenge::platform::vectors::VectorFilter;
use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::fake_embeddings::FakeEmbeddings;
use crate::helpers::{TestApp, TestUser, spawn_app, spawn_app_with};
use crate::ingest::{create_collection, ingest, upload};
use crate::ingest_hostile::chunk_rows;

async fn execute(app: &TestApp, sql: &str) {
    app.backends.db.execute_unprepared(sql).await.unwrap();
}

fn blobs_of(app: &TestApp, user: &TestUser) -> Vec<std::path::PathBuf> {
    let dir = app.settings.server.data_dir.join("objects/org").join(&user.org_id).join("documents");
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

async fn documents_in(app: &TestApp, user: &TestUser, collection: &str) -> Value {
    app.get_as(&format!("/api/v1/collections/{collection}/documents"), &user.access_token).await.json().await.unwrap()
}

#[tokio::test]
async fn an_upload_whose_job_cannot_be_queued_leaves_no_row_and_no_file() {
    let app = spawn_app().await;
    let teacher = app.register("Atomic upload").await;
    let collection = create_collection(&app, &teacher, "C").await;
    // The queue breaks between the file's write and the row's: the job's insert fails.
    execute(&app, "ALTER TABLE jobs RENAME TO jobs_away").await;
    let response = upload(&app, &teacher, &collection, "notes.txt", b"Rivers carve valleys.".to_vec()).await;
    assert_eq!(response.status(), 500);
    execute(&app, "ALTER TABLE jobs_away RENAME TO jobs").await;
    assert_eq!(documents_in(&app, &teacher, &collection).await["total"], 0, "no row stuck `queued` without a job");
    assert!(blobs_of(&app, &teacher).is_empty(), "no file without a row");
    // The queue is back: the same upload goes through.
    let fine = ingest(&app, &teacher, &collection, "notes.txt", b"Rivers carve valleys.".to_vec()).await;
    assert_eq!(fine["status"], "ready");
}

/// Text of a few chunks.
fn notes() -> Vec<u8> {
    (0..40)
        .map(|i| format!("Section {i}. Glaciers move slowly and grind the rock beneath them into fine flour.\n\n"))
        .collect::<String>()
        .into_bytes()
}

/// An app whose embedding calls can be held, with a teacher, a collection and one document whose job is held
/// while it asks for its vectors.
async fn held_mid_indexing() -> (TestApp, TestUser, String, String, FakeEmbeddings) {
    let embeddings = FakeEmbeddings::start().await;
    let app = spawn_app_with(|s| embeddings.configure(s)).await;
    let teacher = app.register("Delete mid-way").await;
    let collection = create_collection(&app, &teacher, "C").await;
    embeddings.hold();
    let asked = embeddings.asked();
    let response = upload(&app, &teacher, &collection, "glaciers.txt", notes()).await;
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    tokio::time::timeout(Duration::from_secs(30), asked).await.expect("the job asks for its vectors");
    (app, teacher, collection, id, embeddings)
}

async fn vectors_of(app: &TestApp, user: &TestUser) -> u64 {
    let org = uuid::Uuid::parse_str(&user.org_id).unwrap();
    app.backends.vectors.count(&VectorFilter::org(org)).await.unwrap()
}

async fn wait_no_running_job(app: &TestApp) {
    for _ in 0..600 {
        let depth = app.backends.jobs.depth().await.unwrap();
        if !depth.iter().any(|(status, n)| status == "running" && *n > 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the job never ended");
}

#[tokio::test]
async fn deleting_a_document_mid_indexing_stops_its_job_and_leaves_nothing_behind() {
    let (app, teacher, collection, id, embeddings) = held_mid_indexing().await;
    let deleted = app.send(Method::DELETE, &format!("/api/v1/documents/{id}"), Some(&teacher.access_token), None).await;
    assert_eq!(deleted.status(), 204);
    embeddings.release();
    wait_no_running_job(&app).await;
    assert_eq!(vectors_of(&app, &teacher).await, 0, "no vectors of it remain");
    assert_eq!(chunk_rows(&app, &id).await, 0, "no chunks of it remain");
    assert!(blobs_of(&app, &teacher).is_empty());
    assert_eq!(documents_in(&app, &teacher, &collection).await["total"], 0);
}

#[tokio::test]
async fn a_deletion_that_failed_part_way_is_never_undone_by_the_running_job() {
    let (app, teacher, _collection, id, embeddings) = held_mid_indexing().await;
    // The file cannot be removed (a directory stands in its place): the deletion stops after removing vectors.
    let blob = app.settings.server.data_dir.join("objects/org").join(&teacher.org_id).join("documents").join(&id);
    std::fs::remove_file(&blob).unwrap();
    std::fs::create_dir_all(blob.join("in-the-way")).unwrap();
    let failed = app.send(Method::DELETE, &format!("/api/v1/documents/{id}"), Some(&teacher.access_token), None).await;
    assert_eq!(failed.status(), 500);
    // The job, let go, must not write the document back: it was being deleted.
    embeddings.release();
    wait_no_running_job(&app).await;
    let doc: Value = app.get_as(&format!("/api/v1/documents/{id}"), &teacher.access_token).await.json().await.unwrap();
    assert_eq!(doc["status"], "deleting", "{doc}");
    assert_eq!(vectors_of(&app, &teacher).await, 0, "the job removed what it wrote after the deletion began");
    // Once the obstacle is gone, deleting again finishes the job.
    std::fs::remove_dir_all(&blob).unwrap();
    let deleted = app.send(Method::DELETE, &format!("/api/v1/documents/{id}"), Some(&teacher.access_token), None).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(chunk_rows(&app, &id).await, 0);
}

#[tokio::test]
async fn the_orphan_sweep_removes_vectors_and_files_whose_document_is_gone() {
    let app = spawn_app_with(|s| s.ingest.orphan_sweep_secs = 3600).await;
    let teacher = app.register("Orphans").await;
    let collection = create_collection(&app, &teacher, "C").await;
    let kept = ingest(&app, &teacher, &collection, "kept.txt", b"Tides follow the moon.".to_vec()).await;
    let lost = ingest(&app, &teacher, &collection, "lost.txt", b"Dunes move with the wind.".to_vec()).await;
    let lost_id = lost["id"].as_str().unwrap();
    // A crash between a deletion's steps: the row is gone, its vectors and file are not.
    let org = uuid::Uuid::parse_str(&teacher.org_id).unwrap();
    let lost_doc = uuid::Uuid::parse_str(lost_id).unwrap();
    let backend = app.backends.db.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "DELETE FROM documents WHERE id = $1"
    } else {
        "DELETE FROM documents WHERE id = ?"
    };
    app.backends
        .db
        .execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, [lost_doc.into()]))
        .await
        .unwrap();
    let lost_vectors = VectorFilter::org(org).with_documents([lost_doc]);
    assert!(app.backends.vectors.count(&lost_vectors).await.unwrap() > 0);
    // Files are only swept once they are older than an upload takes.
    for blob in blobs_of(&app, &teacher) {
        let file = std::fs::File::options().write(true).open(&blob).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(7200)).unwrap();
    }
    let job =
        NewJob { kind: "ingest.orphan_sweep".into(), payload: serde_json::json!({}), org_id: None, dedupe_key: None };
    let id = app.backends.jobs.enqueue(job).await.unwrap();
    for _ in 0..400 {
        if app.backends.jobs.get(id).await.unwrap().unwrap().status == JobStatus::Succeeded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(app.backends.jobs.get(id).await.unwrap().unwrap().status, JobStatus::Succeeded);
    assert_eq!(app.backends.vectors.count(&lost_vectors).await.unwrap(), 0, "the orphan's vectors are gone");
    let blobs = blobs_of(&app, &teacher);
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert!(blobs[0].ends_with(kept["id"].as_str().unwrap()), "the live document's file stays");
    let kept_doc = uuid::Uuid::parse_str(kept["id"].as_str().unwrap()).unwrap();
    assert!(app.backends.vectors.count(&VectorFilter::org(org).with_documents([kept_doc])).await.unwrap() > 0);
}

#[tokio::test]
async fn the_sweep_is_scheduled_once_per_period_on_the_queue() {
    let app = spawn_app_with(|s| s.ingest.orphan_sweep_secs = 3600).await;
    let count = || async {
        let sql = "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'ingest.orphan_sweep' AND status = 'queued'";
        let statement = sea_orm::Statement::from_string(app.backends.db.get_database_backend(), sql);
        app.backends.db.query_one_raw(statement).await.unwrap().unwrap().try_get::<i64>("", "n").unwrap()
    };
    let mut queued = 0;
    for _ in 0..100 {
        queued = count().await;
        if queued > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(queued, 1, "the next period's sweep waits on the queue");
    // A second replica on the same database asks for the same period's sweep: still one job.
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        let database = app.settings.database.url.clone();
        let _second = spawn_app_with(move |s| {
            s.database.url = database;
            s.jobs.workers = 0;
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(count().await, 1, "one sweep per period however many replicas");
    }
}
