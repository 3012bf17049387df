//! Vector storage for retrieval: one trait, two interchangeable backends.
//!
//! * [`edge::EdgeVectorStore`] runs Qdrant's engine in-process (`qdrant-edge`), for single-node
//!   installs that should not need a separate database.
//! * [`server::QdrantVectorStore`] talks gRPC to a Qdrant server, for scaled deployments.
//!
//! Both store the same point layout (named `dense` + `sparse` vectors, tenant keys in the
//! payload) and run the same contract tests, so switching backends is a config change plus a
//! re-index, never a code change.

pub mod edge;
pub mod server;

#[cfg(test)]
mod contract_tests;

use std::sync::LazyLock;

use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use uuid::Uuid;

/// Named dense vector, cosine distance.
pub const DENSE: &str = "dense";
/// Named sparse vector with the IDF modifier, so BM25 term weights are completed by IDF at
/// query time by the engine (server-side and embedded alike).
pub const SPARSE: &str = "sparse";

/// Payload keys carrying the tenant scope. They are keyword-indexed; `org_id` is the tenant key.
pub const ORG_ID: &str = "org_id";
pub const COLLECTION_ID: &str = "collection_id";
pub const DOCUMENT_ID: &str = "document_id";
pub const CHUNK_ID: &str = "chunk_id";
const RESERVED_KEYS: [&str; 4] = [ORG_ID, COLLECTION_ID, DOCUMENT_ID, CHUNK_ID];

/// Every query is filtered by org, so both backends skip the global HNSW graph (`m = 0`) and
/// build per-tenant graphs instead (`payload_m`), which is Qdrant's recommended multitenancy
/// layout: a smaller index, and a graph that stays well-connected under the tenant filter.
pub(crate) const HNSW_M: usize = 0;
pub(crate) const HNSW_PAYLOAD_M: usize = 16;

/// Reciprocal-rank-fusion `k`, sent explicitly to both engines so their fused rankings are
/// identical. 2 is Qdrant's own default: it favours agreement at the very top of the lists.
pub(crate) const RRF_K: usize = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

/// Every point carries the tenant keys; org_id is the indexed tenant key (keyword index,
/// is_tenant), collection_id and document_id are keyword-indexed too.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PointPayload {
    pub org_id: Uuid,
    pub collection_id: Uuid,
    pub document_id: Uuid,
    pub chunk_id: Uuid,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl PointPayload {
    /// Builds the stored JSON object. Tenant keys are written last so that, even if validation
    /// were bypassed, an `extra` entry can never overwrite the tenant scope.
    pub(crate) fn to_json_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = self.extra.clone();
        for (key, id) in [
            (ORG_ID, self.org_id),
            (COLLECTION_ID, self.collection_id),
            (DOCUMENT_ID, self.document_id),
            (CHUNK_ID, self.chunk_id),
        ] {
            map.insert(key.to_owned(), serde_json::Value::String(id.to_string()));
        }
        map
    }

    pub(crate) fn from_json_map(map: serde_json::Map<String, serde_json::Value>) -> Result<Self, VectorError> {
        serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| VectorError::Backend(format!("stored payload is malformed: {e}")))
    }
}

/// A page of [`VectorStore::export_page`].
#[derive(Debug, Default)]
pub struct ExportPage {
    pub points: Vec<VectorPoint>,
    pub next: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct VectorPoint {
    pub id: Uuid,
    pub dense: Option<Vec<f32>>,
    pub sparse: Option<SparseVector>,
    pub payload: PointPayload,
}

/// org_id is mandatory: no query can run unscoped. Empty Vecs mean "no restriction on that key".
#[derive(Debug, Clone)]
pub struct VectorFilter {
    pub org_id: Uuid,
    pub collection_ids: Vec<Uuid>,
    pub document_ids: Vec<Uuid>,
}

impl VectorFilter {
    pub fn org(org_id: Uuid) -> Self {
        Self { org_id, collection_ids: Vec::new(), document_ids: Vec::new() }
    }

    pub fn with_collections(mut self, ids: impl IntoIterator<Item = Uuid>) -> Self {
        self.collection_ids.extend(ids);
        self
    }

    pub fn with_documents(mut self, ids: impl IntoIterator<Item = Uuid>) -> Self {
        self.document_ids.extend(ids);
        self
    }

    /// `(key, allowed values)` conditions, all of which must hold. Backends translate each into
    /// a keyword match, so the filter semantics live in one place.
    pub(crate) fn conditions(&self) -> Vec<(&'static str, Vec<String>)> {
        let strings = |ids: &[Uuid]| ids.iter().map(Uuid::to_string).collect::<Vec<_>>();
        let mut conditions = vec![(ORG_ID, vec![self.org_id.to_string()])];
        if !self.collection_ids.is_empty() {
            conditions.push((COLLECTION_ID, strings(&self.collection_ids)));
        }
        if !self.document_ids.is_empty() {
            conditions.push((DOCUMENT_ID, strings(&self.document_ids)));
        }
        conditions
    }
}

/// Hybrid query: each given vector is a prefetch of `prefetch_limit`, fused with RRF; with only
/// one vector, a plain search on it.
#[derive(Debug, Clone)]
pub struct HybridQuery {
    pub filter: VectorFilter,
    pub dense: Option<Vec<f32>>,
    pub sparse: Option<SparseVector>,
    pub limit: usize,
    pub prefetch_limit: usize,
}

impl HybridQuery {
    /// A prefetch shorter than the final limit would silently truncate the fused result.
    pub(crate) fn effective_prefetch_limit(&self) -> usize {
        self.prefetch_limit.max(self.limit)
    }
}

#[derive(Debug, Clone)]
pub struct ScoredPoint {
    pub id: Uuid,
    pub score: f32,
    pub payload: PointPayload,
}

#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// The caller sent something the store cannot accept (wrong dimension, reserved payload
    /// key, empty query...). Not retryable.
    #[error("invalid vector store input: {0}")]
    InvalidInput(String),
    /// The engine or server failed; the message carries the operation for context.
    #[error("vector store backend error: {0}")]
    Backend(String),
    /// The server could not be reached or timed out; usually retryable.
    #[error("vector store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait::async_trait]
pub trait VectorStore: Send + Sync + 'static {
    /// `"embedded"` or `"qdrant"`.
    fn backend(&self) -> &'static str;
    /// Idempotent; creates the collection/shard config and payload indexes.
    async fn ensure_collection(&self, dense_dim: usize) -> Result<(), VectorError>;
    /// Idempotent by id.
    async fn upsert(&self, points: Vec<VectorPoint>) -> Result<(), VectorError>;
    /// Deletes every point matching the filter.
    async fn delete(&self, filter: &VectorFilter) -> Result<(), VectorError>;
    async fn query(&self, q: &HybridQuery) -> Result<Vec<ScoredPoint>, VectorError>;
    async fn count(&self, filter: &VectorFilter) -> Result<u64, VectorError>;
    /// Cheap liveness check for /readyz.
    async fn health(&self) -> Result<(), VectorError>;
    /// Persist to disk (embedded); no-op where the server handles it.
    async fn flush(&self) -> Result<(), VectorError>;
    /// Build indexes / merge segments. The embedded engine has no background optimizer, so
    /// callers should run this after bulk ingestion; the server optimizes on its own.
    async fn optimize(&self) -> Result<(), VectorError> {
        Ok(())
    }
    /// Maintenance, not tenant queries: up to `limit` distinct `document_id`s with points stored, across every
    /// org (an orphan sweep compares them with the documents that exist).
    async fn document_ids(&self, limit: usize) -> Result<Vec<Uuid>, VectorError>;
    /// Maintenance: deletes every point of these documents, whatever their org (document ids are unique).
    async fn delete_documents(&self, ids: &[Uuid]) -> Result<(), VectorError>;
    /// One page of every point of every tenant, vectors and payload included, in id order, with the id the next
    /// page starts at (`None` at the end). For backups, which must carry the vectors as stored rather than re-embed.
    async fn export_page(&self, from: Option<Uuid>, limit: usize) -> Result<ExportPage, VectorError>;
}

/// Checks shared by both backends, so they reject exactly the same inputs with the same errors
/// instead of surfacing two different engine messages.
pub(crate) fn validate_points(points: &[VectorPoint], dense_dim: usize) -> Result<(), VectorError> {
    for point in points {
        let ctx = |msg: String| VectorError::InvalidInput(format!("point {}: {msg}", point.id));
        if point.dense.is_none() && point.sparse.is_none() {
            return Err(ctx("has neither a dense nor a sparse vector".into()));
        }
        if let Some(dense) = &point.dense {
            validate_dense(dense, dense_dim).map_err(ctx)?;
        }
        if let Some(sparse) = &point.sparse {
            validate_sparse(sparse).map_err(ctx)?;
        }
        if let Some(key) = RESERVED_KEYS.iter().find(|key| point.payload.extra.contains_key(**key)) {
            return Err(ctx(format!("extra payload uses reserved key `{key}`")));
        }
    }
    Ok(())
}

pub(crate) fn validate_query(q: &HybridQuery, dense_dim: usize) -> Result<(), VectorError> {
    let ctx = |msg: String| VectorError::InvalidInput(format!("query: {msg}"));
    if q.dense.is_none() && q.sparse.is_none() {
        return Err(ctx("needs a dense and/or a sparse vector".into()));
    }
    if let Some(dense) = &q.dense {
        validate_dense(dense, dense_dim).map_err(ctx)?;
    }
    if let Some(sparse) = &q.sparse {
        validate_sparse(sparse).map_err(ctx)?;
    }
    Ok(())
}

fn validate_dense(dense: &[f32], dim: usize) -> Result<(), String> {
    if dense.len() != dim {
        return Err(format!("dense vector has {} dimensions, expected {dim}", dense.len()));
    }
    if dense.iter().any(|v| !v.is_finite()) {
        return Err("dense vector contains NaN or infinity".into());
    }
    Ok(())
}

fn validate_sparse(sparse: &SparseVector) -> Result<(), String> {
    if sparse.indices.len() != sparse.values.len() {
        return Err(format!("sparse vector has {} indices but {} values", sparse.indices.len(), sparse.values.len()));
    }
    if sparse.values.iter().any(|v| !v.is_finite()) {
        return Err("sparse vector contains NaN or infinity".into());
    }
    let mut seen = sparse.indices.clone();
    seen.sort_unstable();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err("sparse vector has duplicate indices".into());
    }
    Ok(())
}

/// The stored BM25 vocabulary: the hashes depend on these settings, so changing them (e.g. the
/// language) requires re-embedding every chunk. ASCII folding lets "élève" match "eleve".
static BM25: LazyLock<Option<EdgeBm25>> = LazyLock::new(|| {
    let config =
        EdgeBm25Config { language: Some("english".to_owned()), ascii_folding: Some(true), ..EdgeBm25Config::default() };
    EdgeBm25::new(config).inspect_err(|e| tracing::error!(error = %e, "BM25 model failed to initialise")).ok()
});

/// BM25 term-frequency vector for a document chunk (store it as the `sparse` vector). IDF is
/// applied by the engine at query time, so this needs no corpus statistics.
pub fn bm25_sparse(text: &str) -> SparseVector {
    embed_bm25(text, EdgeBm25::embed_document)
}

/// BM25 vector for a search query: same tokenizer as [`bm25_sparse`], but unit weights, since
/// repeating a word in a query should not count as extra evidence.
pub fn bm25_query(text: &str) -> SparseVector {
    embed_bm25(text, EdgeBm25::embed_query)
}

fn embed_bm25(text: &str, embed: impl Fn(&EdgeBm25, &str) -> qdrant_edge::SparseVector) -> SparseVector {
    match BM25.as_ref() {
        Some(model) => {
            let v = embed(model, text);
            SparseVector { indices: v.indices, values: v.values }
        }
        None => SparseVector { indices: Vec::new(), values: Vec::new() },
    }
}

/// Runs blocking engine work off the async runtime. A panic inside the engine (qdrant-edge
/// still has `expect`s on some paths) becomes an error instead of taking the worker down.
pub(crate) async fn blocking<T, F>(what: &'static str, f: F) -> Result<T, VectorError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, VectorError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| VectorError::Backend(format!("{what}: engine task failed: {e}")))?
}
