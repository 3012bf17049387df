//! Behaviour every `VectorStore` backend must share. Each scenario draws fresh random org ids, so
//! scenarios stay independent even when they run against one shared server collection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use serde_json::json;
use uuid::Uuid;

use super::{
    HybridQuery, PointPayload, ScoredPoint, VectorError, VectorFilter, VectorPoint, VectorStore, bm25_query,
    bm25_sparse,
};

pub(super) const DIM: usize = 8;

pub(super) struct Fixture {
    pub org_a: Uuid,
    pub org_b: Uuid,
    pub coll_a1: Uuid,
    pub coll_a2: Uuid,
    pub doc_a1: Uuid,
    pub doc_a2: Uuid,
    pub a1: Uuid,
    pub a2: Uuid,
    pub a3: Uuid,
    pub a4: Uuid,
    pub b1: Uuid,
    pub points: Vec<VectorPoint>,
}

fn basis(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[i] = 1.0;
    v
}

fn mix(parts: &[(usize, f32)]) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    for &(i, w) in parts {
        v[i] += w;
    }
    v
}

pub(super) fn point(id: Uuid, scope: (Uuid, Uuid, Uuid), dense: Vec<f32>, text: &str) -> VectorPoint {
    let (org_id, collection_id, document_id) = scope;
    let extra = json!({ "text": text, "page": 1 });
    VectorPoint {
        id,
        dense: Some(dense),
        sparse: Some(bm25_sparse(text)),
        payload: PointPayload {
            org_id,
            collection_id,
            document_id,
            chunk_id: Uuid::now_v7(),
            extra: extra.as_object().cloned().unwrap(),
        },
    }
}

impl Fixture {
    pub(super) fn new() -> Self {
        let id = Uuid::new_v4;
        let (org_a, org_b) = (id(), id());
        let (coll_a1, coll_a2, coll_b) = (id(), id(), id());
        let (doc_a1, doc_a2, doc_a3, doc_b) = (id(), id(), id(), id());
        let (a1, a2, a3, a4, b1, b2) = (id(), id(), id(), id(), id(), id());
        let points = vec![
            point(a1, (org_a, coll_a1, doc_a1), basis(0), "Photosynthesis converts light energy into chemical energy"),
            point(a4, (org_a, coll_a1, doc_a1), basis(3), "Chlorophyll absorbs mostly blue and red light"),
            point(a2, (org_a, coll_a1, doc_a2), basis(1), "Mitochondria are the powerhouse of the cell"),
            point(a3, (org_a, coll_a2, doc_a3), mix(&[(2, 1.0), (0, 0.5)]), "Newton's laws describe motion and force"),
            // Org B holds the exact best matches for org A's queries: any leak shows up first.
            point(b1, (org_b, coll_b, doc_b), basis(0), "Photosynthesis happens in the chloroplasts of plants"),
            point(b2, (org_b, coll_b, doc_b), basis(1), "The cell membrane controls what enters the cell"),
        ];
        Self { org_a, org_b, coll_a1, coll_a2, doc_a1, doc_a2, a1, a2, a3, a4, b1, points }
    }

    fn query(&self, filter: VectorFilter, dense: Option<Vec<f32>>, text: Option<&str>) -> HybridQuery {
        HybridQuery { filter, dense, sparse: text.map(bm25_query), limit: 10, prefetch_limit: 20 }
    }
}

fn ids(points: &[ScoredPoint]) -> Vec<Uuid> {
    points.iter().map(|p| p.id).collect()
}

fn assert_ranked_within(points: &[ScoredPoint], org: Uuid, context: &str) {
    assert!(!points.is_empty(), "{context}: no results");
    for p in points {
        assert_eq!(p.payload.org_id, org, "{context}: leaked point {}", p.id);
    }
    for pair in points.windows(2) {
        assert!(pair[0].score >= pair[1].score, "{context}: not sorted by score");
    }
}

pub(super) async fn tenant_isolation_and_ranking(store: &dyn VectorStore) {
    let f = Fixture::new();
    store.upsert(f.points.clone()).await.unwrap();
    let org_a = VectorFilter::org(f.org_a);

    let dense = store.query(&f.query(org_a.clone(), Some(basis(0)), None)).await.unwrap();
    assert_ranked_within(&dense, f.org_a, "dense");
    assert_eq!(ids(&dense)[..2], [f.a1, f.a3], "dense ranking");
    assert_eq!(dense.len(), 4, "dense returns every org A point");
    assert!((dense[0].score - 1.0).abs() < 1e-4, "cosine of identical vectors");

    let dense_b = store.query(&f.query(VectorFilter::org(f.org_b), Some(basis(0)), None)).await.unwrap();
    assert_ranked_within(&dense_b, f.org_b, "dense org B");
    assert_eq!(dense_b[0].id, f.b1);

    let sparse = store.query(&f.query(org_a.clone(), None, Some("photosynthesis"))).await.unwrap();
    assert_ranked_within(&sparse, f.org_a, "sparse");
    assert_eq!(ids(&sparse), [f.a1], "only org A's chunk mentions the term");

    let light = store.query(&f.query(org_a.clone(), None, Some("light"))).await.unwrap();
    assert_eq!(ids(&light).into_iter().collect::<HashSet<_>>(), HashSet::from([f.a1, f.a4]));

    let hybrid =
        store.query(&f.query(org_a.clone(), Some(mix(&[(0, 1.0), (1, 0.2)])), Some("photosynthesis"))).await.unwrap();
    assert_ranked_within(&hybrid, f.org_a, "hybrid");
    assert_eq!(hybrid[0].id, f.a1, "first in both prefetches wins the fusion");
    assert!(!ids(&hybrid).contains(&f.b1));

    // Disagreeing signals: each prefetch's winner must make the fused top two.
    let split = store.query(&f.query(org_a, Some(basis(1)), Some("chlorophyll"))).await.unwrap();
    let top2: HashSet<_> = ids(&split).into_iter().take(2).collect();
    assert_eq!(top2, HashSet::from([f.a2, f.a4]));

    let returned = &dense[0].payload;
    assert_eq!(returned, &f.points[0].payload, "payload round-trips unchanged");
}

pub(super) async fn filters(store: &dyn VectorStore) {
    let f = Fixture::new();
    store.upsert(f.points.clone()).await.unwrap();
    let org_a = || VectorFilter::org(f.org_a);

    let by_collection =
        store.query(&f.query(org_a().with_collections([f.coll_a2]), Some(basis(0)), None)).await.unwrap();
    assert_eq!(ids(&by_collection), [f.a3]);

    let by_document =
        store.query(&f.query(org_a().with_documents([f.doc_a1]), Some(basis(0)), Some("light"))).await.unwrap();
    assert_eq!(ids(&by_document).into_iter().collect::<HashSet<_>>(), HashSet::from([f.a1, f.a4]));

    let both = org_a().with_collections([f.coll_a1, f.coll_a2]);
    assert_eq!(store.count(&both).await.unwrap(), 4);
    let mismatch = org_a().with_collections([f.coll_a2]).with_documents([f.doc_a1]);
    assert_eq!(store.count(&mismatch).await.unwrap(), 0);
    assert!(store.query(&f.query(mismatch, Some(basis(0)), None)).await.unwrap().is_empty());
    assert_eq!(store.count(&org_a().with_documents([f.doc_a1, f.doc_a2])).await.unwrap(), 3);
}

pub(super) async fn delete_by_document(store: &dyn VectorStore) {
    let f = Fixture::new();
    store.upsert(f.points.clone()).await.unwrap();
    let (org_a, org_b) = (VectorFilter::org(f.org_a), VectorFilter::org(f.org_b));
    assert_eq!(store.count(&org_a).await.unwrap(), 4);
    assert_eq!(store.count(&org_b).await.unwrap(), 2);

    // Another org naming org A's document must not delete anything.
    store.delete(&org_b.clone().with_documents([f.doc_a1])).await.unwrap();
    assert_eq!(store.count(&org_a).await.unwrap(), 4);

    store.delete(&org_a.clone().with_documents([f.doc_a1])).await.unwrap();
    assert_eq!(store.count(&org_a).await.unwrap(), 2);
    assert_eq!(store.count(&org_b).await.unwrap(), 2);
    let left = store.query(&f.query(org_a, Some(basis(0)), None)).await.unwrap();
    assert_eq!(ids(&left).into_iter().collect::<HashSet<_>>(), HashSet::from([f.a2, f.a3]));
}

pub(super) async fn upsert_is_idempotent(store: &dyn VectorStore) {
    let f = Fixture::new();
    store.upsert(f.points.clone()).await.unwrap();
    store.upsert(f.points.clone()).await.unwrap();
    let org_a = VectorFilter::org(f.org_a);
    assert_eq!(store.count(&org_a).await.unwrap(), 4);

    let mut changed = f.points[2].clone();
    assert_eq!(changed.id, f.a2);
    changed.payload.extra.insert("text".into(), json!("Ribosomes build proteins"));
    changed.sparse = Some(bm25_sparse("Ribosomes build proteins"));
    store.upsert(vec![changed]).await.unwrap();
    assert_eq!(store.count(&org_a).await.unwrap(), 4);

    let hit = store.query(&f.query(org_a.clone(), None, Some("ribosomes"))).await.unwrap();
    assert_eq!(ids(&hit), [f.a2]);
    assert_eq!(hit[0].payload.extra["text"], json!("Ribosomes build proteins"));
    let stale = store.query(&f.query(org_a, None, Some("mitochondria"))).await.unwrap();
    assert!(stale.is_empty(), "old sparse vector was replaced");
}

pub(super) async fn rejects_invalid_input(store: &dyn VectorStore) {
    let f = Fixture::new();
    let invalid = |r: Result<(), VectorError>| matches!(r, Err(VectorError::InvalidInput(_)));

    let mut short = f.points[0].clone();
    short.dense = Some(vec![1.0; DIM - 1]);
    assert!(invalid(store.upsert(vec![short]).await));

    let mut spoofed = f.points[0].clone();
    spoofed.payload.extra.insert("org_id".into(), json!(f.org_b.to_string()));
    assert!(invalid(store.upsert(vec![spoofed]).await));

    let mut bad_sparse = f.points[0].clone();
    bad_sparse.sparse = Some(super::SparseVector { indices: vec![1, 1], values: vec![0.5, 0.5] });
    assert!(invalid(store.upsert(vec![bad_sparse]).await));

    let empty = f.query(VectorFilter::org(f.org_a), None, None);
    assert!(matches!(store.query(&empty).await, Err(VectorError::InvalidInput(_))));
    let none = HybridQuery { limit: 0, ..f.query(VectorFilter::org(f.org_a), Some(basis(0)), None) };
    assert!(store.query(&none).await.unwrap().is_empty());
    assert_eq!(store.count(&VectorFilter::org(f.org_a)).await.unwrap(), 0, "nothing was written");
    store.health().await.unwrap();
}

/// Runs every shared scenario; the store must already be set up for dimension [`DIM`].
/// The orphan sweep's two calls: which documents have points (any org), and deleting by document id alone.
async fn maintenance_lists_and_deletes_documents_across_orgs(store: &dyn VectorStore) {
    let (org_a, org_b, coll) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (doc_a, doc_b, kept) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let points = vec![
        point(Uuid::new_v4(), (org_a, coll, doc_a), basis(0), "first orphan"),
        point(Uuid::new_v4(), (org_a, coll, doc_a), basis(1), "first orphan again"),
        point(Uuid::new_v4(), (org_b, coll, doc_b), basis(2), "second orphan"),
        point(Uuid::new_v4(), (org_b, coll, kept), basis(3), "kept"),
    ];
    store.upsert(points).await.unwrap();
    let listed: HashSet<Uuid> = store.document_ids(100_000).await.unwrap().into_iter().collect();
    assert!([doc_a, doc_b, kept].iter().all(|d| listed.contains(d)), "every document with points is listed");
    store.delete_documents(&[doc_a, doc_b]).await.unwrap();
    assert_eq!(store.count(&VectorFilter::org(org_a)).await.unwrap(), 0);
    assert_eq!(store.count(&VectorFilter::org(org_b)).await.unwrap(), 1, "other documents stay");
    let listed: HashSet<Uuid> = store.document_ids(100_000).await.unwrap().into_iter().collect();
    assert!(!listed.contains(&doc_a) && listed.contains(&kept));
    store.delete_documents(&[]).await.unwrap();
}

/// A backup reads every point page by page, vectors and payload exactly as stored, across orgs.
async fn export_pages_through_every_point(store: &dyn VectorStore) {
    let f = Fixture::new();
    store.upsert(f.points.clone()).await.unwrap();
    let mut exported = std::collections::HashMap::new();
    let (mut from, mut pages) = (None, 0);
    loop {
        let page = store.export_page(from, 2).await.unwrap();
        assert!(page.points.len() <= 2, "a page holds at most `limit` points");
        pages += 1;
        exported.extend(page.points.into_iter().map(|p| (p.id, p)));
        match page.next {
            Some(next) => from = Some(next),
            None => break,
        }
        assert!(pages < 100_000, "pages end");
    }
    for original in &f.points {
        let stored = exported.get(&original.id).expect("every point is exported");
        // Cosine collections store vectors normalised: compare directions.
        let unit = |v: &[f32]| {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter().map(|x| x / norm).collect::<Vec<f32>>()
        };
        let (stored_dense, original_dense) = (stored.dense.as_ref().unwrap(), original.dense.as_ref().unwrap());
        assert!(unit(stored_dense).iter().zip(unit(original_dense)).all(|(a, b)| (a - b).abs() < 1e-6), "dense kept");
        assert_eq!(stored.payload, original.payload);
        let (a, b) = (stored.sparse.as_ref().unwrap(), original.sparse.as_ref().unwrap());
        let sorted = |v: &super::SparseVector| {
            let mut pairs: Vec<(u32, u32)> = v.indices.iter().zip(&v.values).map(|(i, x)| (*i, x.to_bits())).collect();
            pairs.sort_unstable();
            pairs
        };
        assert_eq!(sorted(a), sorted(b), "sparse vector kept (order aside)");
    }
    assert!(pages >= 3, "five points or more at two a page: {pages} pages");
}

pub(super) async fn run_all(store: &dyn VectorStore) {
    tenant_isolation_and_ranking(store).await;
    filters(store).await;
    delete_by_document(store).await;
    upsert_is_idempotent(store).await;
    rejects_invalid_input(store).await;
    maintenance_lists_and_deletes_documents_across_orgs(store).await;
    export_pages_through_every_point(store).await;
    store.flush().await.unwrap();
    store.health().await.unwrap();
}
