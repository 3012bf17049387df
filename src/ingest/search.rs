//! Hybrid retrieval: dense (the embedding model) and sparse (BM25) results fused with RRF, always filtered by
//! the caller's org and the asked collections. Chat uses [`search`] directly.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::entities::{chunk, collection, document};
use super::error::IngestError;
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

/// The best `top_k` chunks for `query` among `collection_ids` of `org_id` (all its collections if empty).
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
        if owned.len() != collection_ids.iter().collect::<std::collections::HashSet<_>>().len() {
            return Err(IngestError::NotFound("collection"));
        }
    }
    let dense = match &state.embedder {
        Some(embedder) => {
            let mut vectors = embedder.embed(&[query.to_owned()]).await.map_err(anyhow::Error::from)?;
            vectors.pop()
        }
        None => None,
    };
    let mode = if dense.is_some() { "hybrid" } else { "sparse" };
    let points = state
        .vectors
        .query(&HybridQuery {
            filter: VectorFilter::org(org_id).with_collections(collection_ids.iter().copied()),
            dense,
            sparse: Some(bm25_query(query)),
            limit: top_k,
            prefetch_limit: (top_k * 8).max(50),
        })
        .await
        .map_err(anyhow::Error::from)?;
    let ids: Vec<Uuid> = points.iter().map(|p| p.payload.chunk_id).collect();
    // The table is the truth for text and location; the org filter again, so no bug elsewhere can leak.
    let chunks: HashMap<Uuid, chunk::Model> = chunk::Entity::find()
        .filter(chunk::Column::OrgId.eq(org_id))
        .filter(chunk::Column::Id.is_in(ids.clone()))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let doc_ids: Vec<Uuid> = chunks.values().map(|c| c.document_id).collect();
    let names: HashMap<Uuid, String> = document::Entity::find()
        .filter(document::Column::OrgId.eq(org_id))
        .filter(document::Column::Id.is_in(doc_ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let results = points
        .into_iter()
        .filter_map(|p| {
            let c = chunks.get(&p.payload.chunk_id)?;
            Some(SearchHit {
                chunk_id: c.id,
                document_id: c.document_id,
                document_name: names.get(&c.document_id)?.clone(),
                collection_id: c.collection_id,
                text: c.text.clone(),
                score: p.score,
                page: c.page,
                slide: c.slide,
                start_ms: c.start_ms,
                end_ms: c.end_ms,
                heading_path: c.heading_path.clone(),
            })
        })
        .collect();
    Ok(SearchResponse { results, mode })
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
