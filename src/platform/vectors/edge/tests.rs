#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use uuid::Uuid;

use super::super::contract_tests::{self as contract, DIM, Fixture};
use super::super::{HybridQuery, VectorError, VectorFilter, VectorPoint, VectorStore, bm25_query, bm25_sparse};
use super::{EdgeOptions, EdgeVectorStore};

fn store_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("bwenge-vectors").tempdir().unwrap()
}

#[tokio::test]
async fn contract_scenarios() {
    let dir = store_dir();
    let store = EdgeVectorStore::open(&dir.path().join("vectors"), DIM).unwrap();
    assert_eq!(store.backend(), "embedded");
    store.ensure_collection(DIM).await.unwrap();
    contract::run_all(&store).await;
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let dir = store_dir();
    let path = dir.path().join("vectors");
    let f = Fixture::new();
    {
        let store = EdgeVectorStore::open(&path, DIM).unwrap();
        store.upsert(f.points.clone()).await.unwrap();
        store.delete(&VectorFilter::org(f.org_a).with_documents([f.doc_a2])).await.unwrap();
        assert!(
            matches!(EdgeVectorStore::open(&path, DIM), Err(VectorError::Backend(_))),
            "a second open of a live directory must be refused"
        );
    }
    let store = EdgeVectorStore::open(&path, DIM).unwrap();
    store.ensure_collection(DIM).await.unwrap();
    assert_eq!(store.count(&VectorFilter::org(f.org_a)).await.unwrap(), 3);
    assert_eq!(store.count(&VectorFilter::org(f.org_b)).await.unwrap(), 2);
    let q = HybridQuery {
        filter: VectorFilter::org(f.org_a),
        dense: Some(f.points[0].dense.clone().unwrap()),
        sparse: Some(bm25_query("photosynthesis")),
        limit: 5,
        prefetch_limit: 10,
    };
    let hits = store.query(&q).await.unwrap();
    assert_eq!(hits[0].id, f.a1);
    assert_eq!(hits[0].payload, f.points[0].payload);
    assert!(hits.iter().all(|h| h.id != f.a2), "the delete was persisted too");
    store.health().await.unwrap();
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.indexed_fields, ["collection_id", "document_id", "org_id"]);
    drop(store);

    let wrong_dim = EdgeVectorStore::open(&path, DIM + 1);
    assert!(wrong_dim.is_err(), "reopening with another dimension must fail");
}

#[tokio::test]
async fn explicit_flush_without_flush_on_write() {
    let dir = store_dir();
    let opts = EdgeOptions { flush_on_write: false, ..EdgeOptions::default() };
    let f = Fixture::new();
    {
        let store = EdgeVectorStore::open_with(dir.path(), DIM, opts.clone()).unwrap();
        store.upsert(f.points.clone()).await.unwrap();
        store.flush().await.unwrap();
    }
    let store = EdgeVectorStore::open_with(dir.path(), DIM, opts).unwrap();
    assert_eq!(store.count(&VectorFilter::org(f.org_a)).await.unwrap(), 4);
    assert!(matches!(store.ensure_collection(DIM + 1).await, Err(VectorError::InvalidInput(_))));
}

/// Deterministic pseudo-random unit-ish vectors, so the test needs no RNG dependency.
fn noise(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn optimize_builds_indexes_and_keeps_tenancy() {
    const N: usize = 3000;
    const BIG_DIM: usize = 64;
    let dir = store_dir();
    // 3000 64-d vectors are ~750 KB, so a 100 KB threshold makes `optimize` build HNSW.
    let opts = EdgeOptions { indexing_threshold_kb: Some(100), ..EdgeOptions::default() };
    let store = EdgeVectorStore::open_with(dir.path(), BIG_DIM, opts.clone()).unwrap();
    let orgs = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    let docs: Vec<Uuid> = (0..30).map(|_| Uuid::new_v4()).collect();
    let words = ["algebra", "biology", "chemistry", "geography", "history", "physics"];
    let points: Vec<VectorPoint> = (0..N)
        .map(|i| {
            let doc = docs[i % docs.len()];
            let org = orgs[i % orgs.len()];
            let text = format!("{} lesson number {i}", words[i % words.len()]);
            let mut p = contract::point(Uuid::new_v4(), (org, Uuid::nil(), doc), noise(i as u64, BIG_DIM), &text);
            p.sparse = Some(bm25_sparse(&text));
            p
        })
        .collect();

    let started = Instant::now();
    for chunk in points.chunks(500) {
        store.upsert(chunk.to_vec()).await.unwrap();
    }
    let upserted = started.elapsed();
    let probe = |i: usize| HybridQuery {
        filter: VectorFilter::org(points[i].payload.org_id),
        dense: points[i].dense.clone(),
        sparse: None,
        limit: 5,
        prefetch_limit: 20,
    };
    let started = Instant::now();
    let plain_hit = store.query(&probe(7)).await.unwrap();
    let plain_query = started.elapsed();
    assert_eq!(plain_hit[0].id, points[7].id);

    let started = Instant::now();
    store.optimize().await.unwrap();
    let optimized = started.elapsed();
    let stats = store.stats().await.unwrap();
    assert!(stats.indexed_vectors > 0, "HNSW was built: {stats:?}");
    assert_eq!(stats.points, N);
    assert_eq!(stats.indexed_fields, ["collection_id", "document_id", "org_id"]);

    let started = Instant::now();
    for i in [0, 1, 2, 999, 1500, 2998] {
        let hits = store.query(&probe(i)).await.unwrap();
        assert_eq!(hits[0].id, points[i].id, "exact match first after indexing");
        assert!(hits.iter().all(|h| h.payload.org_id == points[i].payload.org_id));
    }
    let indexed_query = started.elapsed() / 6;
    // Only point 2's text has the token "2": both prefetches rank it first.
    let hybrid = HybridQuery { sparse: Some(bm25_query("chemistry 2")), ..probe(2) };
    let hits = store.query(&hybrid).await.unwrap();
    assert_eq!(hits[0].id, points[2].id, "dense and sparse agree on point 2");
    assert!(hits.iter().all(|h| h.payload.org_id == points[2].payload.org_id));

    // Writes and deletes keep working on top of optimized segments, and survive a reopen.
    let mut moved = points[4].clone();
    moved.sparse = Some(bm25_sparse("zoology field trip"));
    store.upsert(vec![moved]).await.unwrap();
    let zoology = HybridQuery { dense: None, sparse: Some(bm25_query("zoology")), ..probe(4) };
    assert_eq!(store.query(&zoology).await.unwrap()[0].id, points[4].id);
    assert_eq!(store.stats().await.unwrap().points, N, "re-upsert replaced, not duplicated");
    let org0 = VectorFilter::org(orgs[0]);
    let before = store.count(&org0).await.unwrap();
    store.delete(&org0.clone().with_documents([docs[0]])).await.unwrap();
    let after = store.count(&org0).await.unwrap();
    assert_eq!(before - after, (N / docs.len()) as u64, "doc 0 belongs to org 0 only");
    drop(store);
    let store = EdgeVectorStore::open_with(dir.path(), BIG_DIM, opts).unwrap();
    assert_eq!(store.count(&org0).await.unwrap(), after);
    let hits = store.query(&probe(1501)).await.unwrap();
    assert_eq!(hits[0].id, points[1501].id);
    let hits = store.query(&probe(1500)).await.unwrap();
    assert!(hits.iter().all(|h| h.id != points[1500].id), "point 1500 was in deleted doc 0");
    println!(
        "edge perf: upsert {N}x{BIG_DIM}d in 6 batches {upserted:?}; plain query {plain_query:?}; \
         optimize {optimized:?}; indexed query {indexed_query:?}; stats {:?}",
        store.stats().await.unwrap()
    );
}

/// `EdgeShard::flush` panics if it races an update or an optimization; the store's gate must
/// make any mix of concurrent calls safe.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_queries_flushes_and_optimize() {
    let dir = store_dir();
    let opts = EdgeOptions { indexing_threshold_kb: Some(20), ..EdgeOptions::default() };
    let store = std::sync::Arc::new(EdgeVectorStore::open_with(dir.path(), DIM, opts).unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8u64 {
        let store = store.clone();
        tasks.spawn(async move {
            let org = Uuid::new_v4();
            for round in 0..15u64 {
                let points = (0..40u64)
                    .map(|i| {
                        let dense = noise(worker * 10_000 + round * 100 + i, DIM);
                        contract::point(Uuid::new_v4(), (org, org, org), dense, "concurrent chunk")
                    })
                    .collect();
                store.upsert(points).await.unwrap();
                let q = HybridQuery {
                    filter: VectorFilter::org(org),
                    dense: Some(noise(round, DIM)),
                    sparse: Some(bm25_query("chunk")),
                    limit: 3,
                    prefetch_limit: 10,
                };
                assert!(!store.query(&q).await.unwrap().is_empty());
                match round % 5 {
                    0 => store.flush().await.unwrap(),
                    1 => store.optimize().await.unwrap(),
                    _ => store.health().await.unwrap(),
                }
            }
            assert_eq!(store.count(&VectorFilter::org(org)).await.unwrap(), 15 * 40);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    store.optimize().await.unwrap();
    assert_eq!(store.stats().await.unwrap().points, 8 * 15 * 40);
}

#[test]
fn bm25_document_and_query_share_the_vocabulary() {
    let doc = bm25_sparse("Élèves learn photosynthesis; photosynthesis needs light!");
    let query = bm25_query("eleves PHOTOSYNTHESIS");
    assert_eq!(query.values, vec![1.0; query.indices.len()]);
    assert_eq!(query.indices.len(), 2);
    assert!(query.indices.iter().all(|i| doc.indices.contains(i)), "stemming/folding match");
    let repeated = doc.indices.iter().position(|i| *i == query.indices[0]).map(|p| doc.values[p]);
    assert!(repeated.is_some());
    assert!(bm25_sparse("the and of").indices.is_empty(), "stopwords only");
    assert!(bm25_query("").indices.is_empty());
}

fn closed_wal_files(shard: &std::path::Path) -> usize {
    std::fs::read_dir(shard.join("wal"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("closed-"))
        .count()
}

/// The engine never truncates its WAL; opening trims it to its newest closed file, and writes after the trim
/// still apply (the WAL's numbering, which is the engine's operation numbering, carries on).
#[tokio::test]
async fn opening_trims_the_wal_and_later_writes_still_apply() {
    let dir = store_dir();
    let opts = EdgeOptions { wal_segment_bytes: Some(64 * 1024), ..EdgeOptions::default() };
    let (org, kept_doc, other_doc) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let point = |i: usize, text: &str| {
        let doc = if i == 0 { kept_doc } else { other_doc };
        contract::point(Uuid::from_u128(i as u128 + 1), (org, Uuid::nil(), doc), noise(i as u64, DIM), text)
    };
    {
        let store = EdgeVectorStore::open_with(dir.path(), DIM, opts.clone()).unwrap();
        for round in 0..20 {
            let text = format!("round {round} {}", "text ".repeat(40));
            store.upsert((0..50).map(|i| point(i, &text)).collect()).await.unwrap();
        }
    }
    let before = closed_wal_files(dir.path());
    assert!(before > 2, "the log grew over several files: {before}");
    {
        let store = EdgeVectorStore::open_with(dir.path(), DIM, opts.clone()).unwrap();
        assert_eq!(closed_wal_files(dir.path()), 1, "only the newest closed file is kept");
        assert_eq!(store.count(&VectorFilter::org(org)).await.unwrap(), 50);
        // Overwrite one point and delete the rest: both must take effect after the trim.
        store.upsert(vec![point(0, "rewritten after the trim")]).await.unwrap();
        store.delete(&VectorFilter::org(org).with_documents([other_doc])).await.unwrap();
    }
    let store = EdgeVectorStore::open_with(dir.path(), DIM, opts).unwrap();
    assert_eq!(store.count(&VectorFilter::org(org)).await.unwrap(), 1);
    let page = store.export_page(None, 10).await.unwrap();
    assert_eq!(page.points.len(), 1);
    assert_eq!(page.points[0].payload.extra["text"], "rewritten after the trim");
}

/// Writes keep flowing while the index is built in the background: every write lands, none waits for the
/// build, and the index exists at the end.
#[tokio::test(flavor = "multi_thread")]
async fn the_index_is_built_in_the_background_while_writes_go_on() {
    const BIG_DIM: usize = 64;
    let dir = store_dir();
    let opts =
        EdgeOptions { indexing_threshold_kb: Some(50), background_index_points: Some(2_000), ..EdgeOptions::default() };
    let store = EdgeVectorStore::open_with(dir.path(), BIG_DIM, opts.clone()).unwrap();
    let (org, doc) = (Uuid::new_v4(), Uuid::new_v4());
    let mut built_while_writing = false;
    let mut slowest = std::time::Duration::ZERO;
    for batch in 0..40 {
        let points: Vec<VectorPoint> = (0..250)
            .map(|i| {
                let n = batch * 250 + i;
                let text = format!("lesson {n} about rivers and valleys");
                contract::point(
                    Uuid::from_u128(n as u128 + 1),
                    (org, Uuid::nil(), doc),
                    noise(n as u64, BIG_DIM),
                    &text,
                )
            })
            .collect();
        let started = Instant::now();
        store.upsert(points).await.unwrap();
        slowest = slowest.max(started.elapsed());
        built_while_writing |= store.stats().await.unwrap().indexing;
    }
    assert!(built_while_writing, "a build ran while batches were still being written");
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while store.stats().await.unwrap().indexing {
        assert!(Instant::now() < deadline, "the background build finishes");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(store.count(&VectorFilter::org(org)).await.unwrap(), 10_000, "every write landed");
    let stats = store.stats().await.unwrap();
    assert!(stats.indexed_vectors > 0, "HNSW was built without an explicit optimize: {stats:?}");
    let probe = HybridQuery {
        filter: VectorFilter::org(org),
        dense: Some(noise(4321, BIG_DIM)),
        sparse: None,
        limit: 3,
        prefetch_limit: 10,
    };
    assert_eq!(store.query(&probe).await.unwrap()[0].id, Uuid::from_u128(4322));
    drop(store);
    let store = EdgeVectorStore::open_with(dir.path(), BIG_DIM, opts).unwrap();
    assert_eq!(store.count(&VectorFilter::org(org)).await.unwrap(), 10_000, "and survived a reopen");
    println!("background index: slowest write batch {slowest:?}, stats {stats:?}");
}
