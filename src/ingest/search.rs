//! Hybrid retrieval: dense (the embedding model) and sparse (BM25) results fused with RRF, always filtered by
//! the caller's org and the asked collections. Chat uses [`search`] directly.

use std::collections::{HashMap, HashSet};

use actix_web::{HttpResponse, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::entities::{chunk, collection, document};
use super::error::IngestError;
use super::passages;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::platform::vectors::{HybridQuery, VectorFilter, bm25_query};

#[derive(Debug, Deserialize, ToSchema)]
pub struct SearchRequest {
    pub query: String,
    /// Empty or absent: every collection of the caller's org.
    #[serde(default)]
    pub collection_ids: Vec<Uuid>,
    /// 1 to 50; default 5.
    pub top_k: Option<usize>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    pub chunk_id: Uuid,
    pub document_id: Uuid,
    pub document_name: String,
    pub collection_id: Uuid,
    /// The matched chunk joined with its neighbours in the same section (overlap removed).
    pub text: String,
    /// Fused rank score: higher is better; comparable within one answer only.
    pub score: f32,
    pub page: Option<i32>,
    pub slide: Option<i32>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub heading_path: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub results: Vec<SearchHit>,
    /// `hybrid`, or `sparse` when no embedding model is available.
    pub mode: &'static str,
}

/// Reciprocal-rank-fusion constant: small, so agreement at the very top of the lists decides (Qdrant's default).
const RRF_K: f32 = 2.0;

/// The best `top_k` passages for `query` among `collection_ids` of `org_id` (all its collections if empty).
///
/// Three ranked lists of chunks are fused with RRF: BM25 over chunks, the chunk vectors, and each chunk's best
/// window vector (see [`super::passages`]). Each hit then returns its chunk joined with the neighbouring chunks
/// of the same section, and a chunk already shown inside a better hit's passage is not repeated.
pub async fn search(
    state: &AppState,
    org_id: Uuid,
    collection_ids: &[Uuid],
    query: &str,
    top_k: usize,
) -> Result<SearchResponse, IngestError> {
    let query = query.trim();
    if query.is_empty() || query.chars().count() > 2000 {
        return Err(IngestError::Invalid("query must be 1 to 2000 characters".into()));
    }
    if !collection_ids.is_empty() {
        let owned = collection::Entity::find()
            .filter(collection::Column::OrgId.eq(org_id))
            .filter(collection::Column::Id.is_in(collection_ids.iter().copied()))
            .all(&state.db)
            .await?;
        if owned.len() != collection_ids.iter().collect::<HashSet<_>>().len() {
            return Err(IngestError::NotFound("collection"));
        }
    }
    let filter = VectorFilter::org(org_id).with_collections(collection_ids.iter().copied());
    let (ranked, mode) = ranked_chunks(state, filter, query, top_k).await?;
    let results = passages_for(state, org_id, &ranked, top_k).await?;
    Ok(SearchResponse { results, mode })
}

/// Chunk ids with their fused score, best first.
async fn ranked_chunks(
    state: &AppState,
    filter: VectorFilter,
    query: &str,
    top_k: usize,
) -> Result<(Vec<(Uuid, f32)>, &'static str), IngestError> {
    let dense_vector = match &state.embedder {
        Some(embedder) => embedder.embed(&[query.to_owned()]).await.map_err(anyhow::Error::from)?.pop(),
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
    let sparse = state.vectors.query(&sparse_query);
    let mut lists: Vec<Vec<Uuid>> = Vec::with_capacity(3);
    let mode = match dense_vector {
        Some(vector) => {
            // Window points outnumber chunk points about three to one; one pool serves both lists.
            let pool = (top_k * 16).max(200);
            let dense_query =
                HybridQuery { filter, dense: Some(vector), sparse: None, limit: pool, prefetch_limit: pool };
            let dense = state.vectors.query(&dense_query);
            let (sparse, dense) = tokio::try_join!(sparse, dense).map_err(anyhow::Error::from)?;
            lists.push(sparse.into_iter().map(|p| p.payload.chunk_id).collect());
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
    Ok((fuse(&lists), mode))
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
    state: &AppState,
    org_id: Uuid,
    ranked: &[(Uuid, f32)],
    top_k: usize,
) -> Result<Vec<SearchHit>, IngestError> {
    // Skipped chunks are replaced from further down, so look a little deeper than top_k.
    let ranked = &ranked[..ranked.len().min(top_k * 3)];
    // The table is the truth for text and location; the org filter again, so no bug elsewhere can leak.
    let rows: HashMap<Uuid, chunk::Model> = chunk::Entity::find()
        .filter(chunk::Column::OrgId.eq(org_id))
        .filter(chunk::Column::Id.is_in(ranked.iter().map(|(id, _)| *id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let documents: HashSet<Uuid> = rows.values().map(|c| c.document_id).collect();
    let ordinals: HashSet<i32> = rows.values().flat_map(|c| [c.ordinal - 1, c.ordinal + 1]).collect();
    let neighbours: HashMap<(Uuid, i32), chunk::Model> = chunk::Entity::find()
        .filter(chunk::Column::OrgId.eq(org_id))
        .filter(chunk::Column::DocumentId.is_in(documents.iter().copied()))
        .filter(chunk::Column::Ordinal.is_in(ordinals))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| ((c.document_id, c.ordinal), c))
        .collect();
    let names: HashMap<Uuid, String> = document::Entity::find()
        .filter(document::Column::OrgId.eq(org_id))
        .filter(document::Column::Id.is_in(documents))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let mut shown: HashSet<Uuid> = HashSet::new();
    let mut hits = Vec::with_capacity(top_k);
    for (id, score) in ranked {
        if hits.len() == top_k {
            break;
        }
        let (Some(c), false) = (rows.get(id), shown.contains(id)) else { continue };
        let Some(document_name) = names.get(&c.document_id) else { continue };
        let same_section = |n: &&chunk::Model| n.heading_path == c.heading_path && n.slide == c.slide;
        let before = neighbours.get(&(c.document_id, c.ordinal - 1)).filter(same_section);
        let after = neighbours.get(&(c.document_id, c.ordinal + 1)).filter(same_section);
        let mut text = c.text.clone();
        if let Some(b) = before {
            text = passages::join(&b.text, &text);
        }
        if let Some(a) = after {
            text = passages::join(&text, &a.text);
        }
        shown.extend([Some(c), before, after].into_iter().flatten().map(|n| n.id));
        hits.push(SearchHit {
            chunk_id: c.id,
            document_id: c.document_id,
            document_name: document_name.clone(),
            collection_id: c.collection_id,
            text,
            score: *score,
            page: c.page,
            slide: c.slide,
            start_ms: before.and_then(|b| b.start_ms).or(c.start_ms),
            end_ms: after.and_then(|a| a.end_ms).or(c.end_ms),
            heading_path: c.heading_path.clone(),
        });
    }
    Ok(hits)
}

#[utoipa::path(post, path = "/api/v1/search", tag = "knowledge", security(("bearer" = [])),
    request_body = SearchRequest, extensions(("x-min-role" = json!("student"))),
    responses((status = 200, body = SearchResponse), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn route(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: web::Json<SearchRequest>,
) -> Result<HttpResponse, IngestError> {
    let top_k = body.top_k.unwrap_or(5).clamp(1, 50);
    let found = search(&state, caller.org_id, &body.collection_ids, &body.query, top_k).await?;
    Ok(HttpResponse::Ok().json(found))
}
