//! Hybrid retrieval: dense (the embedding model) and sparse (BM25) results fused with RRF, always filtered by the
//! caller's org and collections, then grown into passages. Other domains reach it through
//! [`super::service::IngestService::search`].

use std::collections::{HashMap, HashSet};

use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::entities::chunk;
use super::error::IngestError;
use super::pipeline::passages;
use super::store;
use super::unmatched;
use super::views::{SearchHit, SearchResponse};
use crate::platform::Backends;
use crate::platform::vectors::{HybridQuery, VectorFilter, bm25_query};

/// Reciprocal-rank-fusion constant: small, so agreement at the very top of the lists decides (Qdrant's default).
const RRF_K: f32 = 2.0;
/// Each further hit from a document already in the results scores this much less, so one long document on a
/// neighbouring topic cannot fill the whole top (measured on the eval set: 0.85 to 0.95 all help, 0.6 hurts).
const SAME_DOCUMENT_DECAY: f32 = 0.9;
/// A hit is returned with up to this many neighbouring chunks either side, within its section ("small to big":
/// the small chunk ranks precisely, the passage around it holds the answer).
const PASSAGE_RADIUS: i32 = 2;
/// ... and within this many word pieces in all, so five passages fit comfortably in a chat prompt.
const PASSAGE_MAX_TOKENS: i32 = 1200;

/// The best `top_k` passages for `query` among `collection_ids` of `org_id` (all its collections if empty); the
/// collections are known to be the org's.
///
/// Three ranked lists of chunks are fused with RRF: BM25 over chunks, the chunk vectors, and each chunk's best
/// window vector (see [`super::pipeline::passages`]). Hits are then picked greedily, a document's later hits
/// counting a little less; each returns its chunk joined with up to two neighbouring chunks either side in the
/// same section, and a chunk already shown inside a better hit's passage is not repeated.
pub async fn search(
    backends: &Backends,
    org_id: Uuid,
    collection_ids: &[Uuid],
    query: &str,
    top_k: usize,
) -> Result<SearchResponse, IngestError> {
    let filter = VectorFilter::org(org_id).with_collections(collection_ids.iter().copied());
    let unmatched =
        unmatched::unmatched_words(backends.vectors.as_ref(), &filter, query).await.map_err(anyhow::Error::from)?;
    let ranked = ranked_chunks(backends, filter, query, &unmatched, top_k).await?;
    let results = passages_for(&backends.db, org_id, &ranked.chunks, &ranked.relevance, top_k).await?;
    let best = ranked.relevance.values().copied().reduce(f32::max);
    Ok(SearchResponse {
        results,
        mode: ranked.mode,
        relevance: best,
        unmatched,
        unmatched_weight: ranked.unmatched_weight,
    })
}

/// Each chunk's relevance: the cosine similarity of the query with the chunk or its best window, whichever is higher.
type Relevance = HashMap<Uuid, f32>;

/// What the vector searches found.
struct Ranked {
    /// Chunk ids with their fused score, best first.
    chunks: Vec<(Uuid, f32)>,
    /// The dense relevance of those the model found.
    relevance: Relevance,
    mode: &'static str,
    /// See [`SearchResponse::unmatched_weight`].
    unmatched_weight: Option<f32>,
}

async fn ranked_chunks(
    backends: &Backends,
    filter: VectorFilter,
    query: &str,
    unmatched: &[String],
    top_k: usize,
) -> Result<Ranked, IngestError> {
    // The query without its unmatched words, embedded in the same call to weigh them (see `unmatched`); not
    // computed when every word matched, not embedded when nothing else is left (the weight is then 1).
    let remainder = if unmatched.is_empty() { String::new() } else { unmatched::without(query, unmatched) };
    let mut texts = vec![query.to_owned()];
    if !remainder.is_empty() {
        texts.push(remainder);
    }
    let mut unmatched_weight = None;
    let dense_vector = match &backends.embeddings {
        Some(embedder) => {
            let mut vectors = embedder.embed(&texts).await.map_err(anyhow::Error::from)?.into_iter();
            let query_vector = vectors.next();
            unmatched_weight = query_vector
                .as_deref()
                .map(|v| if unmatched.is_empty() { 0.0 } else { unmatched::weight(v, vectors.next().as_deref()) });
            query_vector
        }
        None => None,
    };
    let sparse_limit = (top_k * 4).max(50);
    let sparse_query = HybridQuery {
        filter: filter.clone(),
        dense: None,
        sparse: Some(bm25_query(query)),
        limit: sparse_limit,
        prefetch_limit: sparse_limit,
    };
    let sparse = backends.vectors.query(&sparse_query);
    let mut lists: Vec<Vec<Uuid>> = Vec::with_capacity(3);
    let mut relevance = Relevance::new();
    let mode = match dense_vector {
        Some(vector) => {
            // Window points outnumber chunk points about three to one; one pool serves both lists.
            let pool = (top_k * 16).max(200);
            let dense_query =
                HybridQuery { filter, dense: Some(vector), sparse: None, limit: pool, prefetch_limit: pool };
            let dense = backends.vectors.query(&dense_query);
            let (sparse, dense) = tokio::try_join!(sparse, dense).map_err(anyhow::Error::from)?;
            lists.push(sparse.into_iter().map(|p| p.payload.chunk_id).collect());
            for p in &dense {
                let best = relevance.entry(p.payload.chunk_id).or_insert(p.score);
                *best = best.max(p.score);
            }
            let (windows, chunks): (Vec<_>, Vec<_>) =
                dense.into_iter().partition(|p| p.payload.extra.contains_key(passages::WINDOW_FLAG));
            lists.push(chunks.into_iter().map(|p| p.payload.chunk_id).collect());
            lists.push(windows.into_iter().map(|p| p.payload.chunk_id).collect());
            "hybrid"
        }
        None => {
            lists.push(sparse.await.map_err(anyhow::Error::from)?.into_iter().map(|p| p.payload.chunk_id).collect());
            "sparse"
        }
    };
    Ok(Ranked { chunks: fuse(&lists), relevance, mode, unmatched_weight })
}

/// RRF over ranked lists; a chunk counts once per list, at its best rank there.
fn fuse(lists: &[Vec<Uuid>]) -> Vec<(Uuid, f32)> {
    let mut scores: HashMap<Uuid, f32> = HashMap::new();
    for list in lists {
        let mut seen = HashSet::new();
        let mut rank = 0.0;
        for id in list {
            if seen.insert(*id) {
                rank += 1.0;
                *scores.entry(*id).or_default() += 1.0 / (RRF_K + rank);
            }
        }
    }
    let mut fused: Vec<(Uuid, f32)> = scores.into_iter().collect();
    // Ties by id keep the order stable between identical queries.
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    fused
}

/// Builds the hits: each chunk joined with its neighbours in the same section, skipping chunks already shown.
async fn passages_for(
    db: &DatabaseConnection,
    org_id: Uuid,
    ranked: &[(Uuid, f32)],
    relevance: &Relevance,
    top_k: usize,
) -> Result<Vec<SearchHit>, IngestError> {
    // Skipped chunks are replaced from further down, so look a little deeper than top_k.
    let ranked = &ranked[..ranked.len().min(top_k * 3)];
    // The table is the truth for text and location; the org filter again, so no bug elsewhere can leak.
    let rows = store::chunks_by_id(db, org_id, ranked.iter().map(|(id, _)| *id)).await?;
    let documents: HashSet<Uuid> = rows.values().map(|c| c.document_id).collect();
    let neighbours =
        store::chunks_around(db, org_id, rows.values().map(|c| (c.document_id, c.ordinal)), PASSAGE_RADIUS).await?;
    let names = store::document_names(db, org_id, &documents).await?;
    let mut shown: HashSet<Uuid> = HashSet::new();
    let mut per_document: HashMap<Uuid, i32> = HashMap::new();
    let mut candidates: Vec<(&chunk::Model, f32)> =
        ranked.iter().filter_map(|(id, score)| rows.get(id).map(|c| (c, *score))).collect();
    let mut hits: Vec<SearchHit> = Vec::with_capacity(top_k);
    while hits.len() < top_k {
        // Greedy: the best candidate once its document's earlier hits are counted against it.
        let adjusted = |(c, score): &(&chunk::Model, f32)| {
            score * SAME_DOCUMENT_DECAY.powi(per_document.get(&c.document_id).copied().unwrap_or(0))
        };
        let Some((best, score)) = candidates
            .iter()
            .enumerate()
            .map(|(i, candidate)| (i, adjusted(candidate)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        else {
            break;
        };
        let (c, _) = candidates.remove(best);
        let Some(document_name) = names.get(&c.document_id) else { continue };
        if shown.contains(&c.id) {
            continue;
        }
        *per_document.entry(c.document_id).or_default() += 1;
        let (run_before, run_after) = expand(c, &neighbours, PASSAGE_RADIUS, PASSAGE_MAX_TOKENS);
        let mut text = c.text.clone();
        for b in &run_before {
            text = passages::join(&b.text, &text);
        }
        for a in &run_after {
            text = passages::join(&text, &a.text);
        }
        let before = run_before.last().copied();
        let after = run_after.last().copied();
        shown.extend(run_before.iter().chain(run_after.iter()).map(|n| n.id));
        shown.insert(c.id);
        hits.push(SearchHit {
            chunk_id: c.id,
            document_id: c.document_id,
            document_name: document_name.clone(),
            collection_id: c.collection_id,
            text,
            score,
            // A chunk below the dense pool's cut scores no higher than the pool's last: absent says "not measured".
            relevance: relevance.get(&c.id).copied(),
            page: c.page,
            slide: c.slide,
            start_ms: before.and_then(|b| b.start_ms).or(c.start_ms),
            end_ms: after.and_then(|a| a.end_ms).or(c.end_ms),
            heading_path: c.heading_path.clone(),
        });
    }
    Ok(hits)
}

/// The neighbours joined around `hit`: alternately one more before and one more after, up to `radius` either
/// side, never across a section or slide boundary, and not past `max_tokens` in all.
fn expand<'a>(
    hit: &chunk::Model,
    neighbours: &'a HashMap<(Uuid, i32), chunk::Model>,
    radius: i32,
    max_tokens: i32,
) -> (Vec<&'a chunk::Model>, Vec<&'a chunk::Model>) {
    let same_section = |n: &&chunk::Model| n.heading_path == hit.heading_path && n.slide == hit.slide;
    let mut tokens = hit.token_count;
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let (mut before_open, mut after_open) = (true, true);
    for step in 1..=radius {
        for (side, open, ordinal) in
            [(&mut before, &mut before_open, hit.ordinal - step), (&mut after, &mut after_open, hit.ordinal + step)]
        {
            if !*open {
                continue;
            }
            match neighbours.get(&(hit.document_id, ordinal)).filter(same_section) {
                Some(n) if tokens + n.token_count <= max_tokens => {
                    tokens += n.token_count;
                    side.push(n);
                }
                _ => *open = false,
            }
        }
    }
    (before, after)
}
