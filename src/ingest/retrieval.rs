//! Hybrid retrieval: dense (the embedding model) and sparse (BM25) scores combined (see [`combine`]), each chunk
//! lifted a little by a matching neighbour (see [`with_neighbours`]), always filtered by the caller's org and
//! collections, then grown into passages. Other domains reach it through
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

/// The dense score's share of a hit's score, BM25's the rest (see [`combine`]): equal weights. Measured on both
/// eval sets (benches/README.md, 2026-11-29 night), every weight from 0.4 to 0.6 ranks better than the RRF this
/// replaced, on both; 0.5 is the middle of that range, not a value fitted to one set.
const DENSE_WEIGHT: f32 = 0.5;
/// A chunk gains this share of its better neighbour's score (see [`with_neighbours`]). Measured on both eval sets
/// (benches/README.md, 2026-11-30): 0.1 to 0.25 raise MRR@10 on both, most on the second set (0.655 → 0.683 at
/// 0.1); above 0.1 the public set loses more recall@5 than it gains in MRR (0.2: two questions out of the top 5).
const NEIGHBOUR_WEIGHT: f32 = 0.1;
/// Reciprocal-rank-fusion constant for BM25's list alone (no embedding model), where a hit's score is its rank's.
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
/// Each chunk scores the combination of its BM25 score and its dense one, the cosine of the query with the chunk
/// or its best window vector (see [`super::pipeline::passages`]), plus a share of its better neighbour's score.
/// Hits are then picked greedily, a document's later hits counting a little less; each returns its chunk joined
/// with up to two neighbouring chunks either side in the same section, and a chunk already shown inside a better
/// hit's passage is not repeated.
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
    /// Chunk ids with their score, best first.
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
    let mut relevance = Relevance::new();
    let (chunks, mode) = match dense_vector {
        Some(vector) => {
            // One pool of chunk and window points (windows outnumber chunks about three to one).
            let pool = (top_k * 16).max(200);
            let dense_query =
                HybridQuery { filter, dense: Some(vector), sparse: None, limit: pool, prefetch_limit: pool };
            let dense = backends.vectors.query(&dense_query);
            let (sparse, dense) = tokio::try_join!(sparse, dense).map_err(anyhow::Error::from)?;
            for p in &dense {
                let best = relevance.entry(p.payload.chunk_id).or_insert(p.score);
                *best = best.max(p.score);
            }
            let keywords: HashMap<Uuid, f32> = sparse.iter().map(|p| (p.payload.chunk_id, p.score)).collect();
            let places: Places = dense
                .iter()
                .chain(&sparse)
                .filter_map(|p| {
                    Some((p.payload.chunk_id, (p.payload.document_id, p.payload.extra.get("ordinal")?.as_i64()?)))
                })
                .collect();
            (with_neighbours(combine(&keywords, &relevance), &places), "hybrid")
        }
        None => {
            let sparse = sparse.await.map_err(anyhow::Error::from)?;
            (by_rank(sparse.into_iter().map(|p| p.payload.chunk_id)), "sparse")
        }
    };
    Ok(Ranked { chunks, relevance, mode, unmatched_weight })
}

/// Each chunk's `DENSE_WEIGHT · dense + (1 − DENSE_WEIGHT) · keywords`, both scaled to 0..1 over the candidates
/// that search found (the best 1, the least 0; a chunk one search did not find scores 0 there), best first.
///
/// RRF, used before, keeps only ranks: a chunk that BM25 ranks first by a hair and the embedding tenth outranked
/// one the embedding found far closer than anything else. The scores keep how far apart candidates are; scaled
/// over the candidates, BM25's unbounded scores and the cosines weigh alike in any collection.
fn combine(keywords: &HashMap<Uuid, f32>, dense: &Relevance) -> Vec<(Uuid, f32)> {
    let (keywords, dense) = (scaled(keywords), scaled(dense));
    let ids: HashSet<Uuid> = keywords.keys().chain(dense.keys()).copied().collect();
    let score = |id: &Uuid| {
        let of = |m: &HashMap<Uuid, f32>| m.get(id).copied().unwrap_or(0.0);
        DENSE_WEIGHT * of(&dense) + (1.0 - DENSE_WEIGHT) * of(&keywords)
    };
    let mut combined: Vec<(Uuid, f32)> = ids.into_iter().map(|id| (id, score(&id))).collect();
    // Ties by id keep the order stable between identical queries.
    combined.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    combined
}

/// Where each candidate chunk sits: its document and ordinal (from the points' payloads; points stored before
/// window points carried the ordinal lack it, and such a window's chunk then counts without its neighbours).
type Places = HashMap<Uuid, (Uuid, i64)>;

/// Each chunk's score plus `NEIGHBOUR_WEIGHT` × the better of its two neighbours' (0 for a neighbour that is not a
/// candidate), best first. A hit is returned with its neighbours, and an answer usually spans several chunks:
/// where the chunks around one match too, the passage is about the question, not one chunk that shares its words.
fn with_neighbours(combined: Vec<(Uuid, f32)>, places: &Places) -> Vec<(Uuid, f32)> {
    let at: HashMap<(Uuid, i64), f32> =
        combined.iter().filter_map(|(id, score)| places.get(id).map(|place| (*place, *score))).collect();
    let neighbour = |(document, ordinal): (Uuid, i64)| {
        let of = |o: i64| at.get(&(document, o)).copied().unwrap_or(0.0);
        of(ordinal - 1).max(of(ordinal + 1))
    };
    let mut out: Vec<(Uuid, f32)> = combined
        .iter()
        .map(|(id, score)| (*id, score + NEIGHBOUR_WEIGHT * places.get(id).copied().map_or(0.0, neighbour)))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// Min-max scaling; when every score is the same (one candidate), each is the best: 1.
fn scaled(scores: &HashMap<Uuid, f32>) -> HashMap<Uuid, f32> {
    let (min, max) = scores.values().fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let span = max - min;
    scores.iter().map(|(id, v)| (*id, if span > f32::EPSILON { (v - min) / span } else { 1.0 })).collect()
}

/// BM25's list alone scored by rank, `1/(RRF_K + rank)`, as RRF would score a single list; a chunk counts once,
/// at its best rank.
fn by_rank(list: impl IntoIterator<Item = Uuid>) -> Vec<(Uuid, f32)> {
    let mut seen = HashSet::new();
    list.into_iter()
        .filter(|id| seen.insert(*id))
        .zip(1..)
        .map(|(id, rank)| (id, 1.0 / (RRF_K + rank as f32)))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_signals_count_by_how_far_apart_they_score_not_by_rank() {
        let [a, b, c, d] = [1, 2, 3, 4].map(Uuid::from_u128);
        // BM25 ranks `a` first by a hair; the embedding finds `b` far closer than anything else.
        let keywords = HashMap::from([(a, 10.0), (b, 9.9), (c, 2.0)]);
        let dense = HashMap::from([(b, 0.8), (a, 0.35), (c, 0.3), (d, 0.3)]);
        let combined = combine(&keywords, &dense);
        let order: Vec<Uuid> = combined.iter().map(|(id, _)| *id).collect();
        assert_eq!(order[0], b);
        assert_eq!(order[1], a);
        assert!(combined.iter().all(|(_, s)| (0.0..=1.0).contains(s)), "{combined:?}");
        // A candidate only one search found scores 0 in the other; identical inputs keep one order.
        assert_eq!(combined, combine(&keywords, &dense));
    }

    #[test]
    fn a_chunk_whose_neighbour_matches_too_outranks_a_lone_match() {
        let [document, other] = [10, 11].map(Uuid::from_u128);
        let [lone, middle, next, elsewhere, unplaced] = [1, 2, 3, 4, 5].map(Uuid::from_u128);
        let combined = vec![(lone, 0.9), (middle, 0.85), (next, 0.5), (elsewhere, 0.4), (unplaced, 0.3)];
        let places = Places::from([
            (lone, (other, 7)),
            (middle, (document, 3)),
            (next, (document, 4)),
            // Ordinal 5 of another document is no neighbour of `next`.
            (elsewhere, (other, 5)),
        ]);
        let lifted = with_neighbours(combined, &places);
        let order: Vec<Uuid> = lifted.iter().map(|(id, _)| *id).collect();
        assert_eq!(order, vec![middle, lone, next, elsewhere, unplaced]);
        let score = |id: Uuid| lifted.iter().find(|(i, _)| *i == id).unwrap().1;
        assert!((score(middle) - (0.85 + NEIGHBOUR_WEIGHT * 0.5)).abs() < 1e-6);
        assert!((score(next) - (0.5 + NEIGHBOUR_WEIGHT * 0.85)).abs() < 1e-6);
        assert_eq!((score(lone), score(elsewhere), score(unplaced)), (0.9, 0.4, 0.3), "no neighbour matched");
    }

    #[test]
    fn a_lone_candidate_is_its_searchs_best() {
        let only = Uuid::from_u128(7);
        assert_eq!(scaled(&HashMap::from([(only, 3.2)])), HashMap::from([(only, 1.0)]));
        assert!(scaled(&HashMap::new()).is_empty());
        let combined = combine(&HashMap::from([(only, 3.2)]), &Relevance::new());
        assert_eq!(combined, vec![(only, 1.0 - DENSE_WEIGHT)]);
    }
}
