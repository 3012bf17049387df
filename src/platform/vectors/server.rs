//! Qdrant server backend over gRPC (`qdrant-client` 1.20, without its `serde` feature, hence
//! the hand-written JSON <-> protobuf value conversion at the bottom).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use qdrant_client::qdrant::facet_value::Variant as FacetVariant;
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::vector_output::Vector as StoredVector;
use qdrant_client::qdrant::vectors_config::Config as VectorsConfigKind;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder,
    Distance, FacetCountsBuilder, FieldType, Filter, HnswConfigDiffBuilder, KeywordIndexParamsBuilder, ListValue,
    Modifier, PointId, PointStruct, PrefetchQueryBuilder, Query, QueryPointsBuilder, RetrievedPoint, Rrf,
    ScrollPointsBuilder, SparseVectorParamsBuilder, SparseVectorsConfigBuilder, Struct, UpsertPointsBuilder, Value,
    Vector, VectorInput, VectorParamsBuilder, VectorsConfigBuilder,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use uuid::Uuid;

use super::{
    COLLECTION_ID, DENSE, DOCUMENT_ID, ExportPage, HybridQuery, ORG_ID, PointPayload, SPARSE, ScoredPoint,
    SparseVector, VectorError, VectorFilter, VectorPoint, VectorStore, validate_points, validate_query,
};

/// Keeps each gRPC request well under the server's message size limit.
const UPSERT_CHUNK: usize = 256;

pub struct QdrantVectorStore {
    client: Qdrant,
    collection: String,
    /// Learned from `ensure_collection` or the collection info, to validate before sending.
    dense_dim: OnceLock<usize>,
}

impl QdrantVectorStore {
    /// Builds the client; no network round-trip happens until the first call.
    pub fn connect(url: &str, api_key: Option<&str>, collection: &str) -> Result<Self, VectorError> {
        if collection.is_empty() {
            return Err(VectorError::InvalidInput("collection name is empty".into()));
        }
        // The compatibility check would do a blocking health check (on a throwaway runtime)
        // inside `build` and print to stdout; readiness is `health()`'s job instead.
        let client = Qdrant::from_url(url)
            .api_key(api_key)
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .skip_compatibility_check()
            .build()
            .map_err(|e| VectorError::InvalidInput(format!("qdrant url {url}: {e}")))?;
        Ok(Self { client, collection: collection.to_owned(), dense_dim: OnceLock::new() })
    }

    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Test/maintenance helper: drops the whole collection.
    pub async fn delete_collection(&self) -> Result<(), VectorError> {
        self.client.delete_collection(self.collection.as_str()).await.map_err(err("delete_collection"))?;
        Ok(())
    }

    /// The stored `(dense dimension, sparse vector uses IDF)`, to detect a collection that was
    /// created with another layout (e.g. by an older version or another tool).
    async fn stored_layout(&self) -> Result<(Option<usize>, bool), VectorError> {
        let info = self.client.collection_info(self.collection.as_str()).await.map_err(err("collection_info"))?;
        let params = info.result.and_then(|i| i.config).and_then(|c| c.params).unwrap_or_default();
        let dim = match params.vectors_config.and_then(|v| v.config) {
            Some(VectorsConfigKind::ParamsMap(map)) => map.map.get(DENSE).map(|p| p.size as usize),
            _ => None,
        };
        let sparse = params.sparse_vectors_config.unwrap_or_default();
        let idf = sparse.map.get(SPARSE).and_then(|p| p.modifier) == Some(Modifier::Idf as i32);
        Ok((dim, idf))
    }

    async fn dense_dim(&self) -> Result<usize, VectorError> {
        if let Some(dim) = self.dense_dim.get() {
            return Ok(*dim);
        }
        let dim = self.stored_layout().await?.0.ok_or_else(|| {
            VectorError::Backend(format!(
                "collection {} has no `{DENSE}` vector; run ensure_collection first",
                self.collection
            ))
        })?;
        Ok(*self.dense_dim.get_or_init(|| dim))
    }

    async fn create_collection(&self, dense_dim: usize) -> Result<(), VectorError> {
        let mut dense = VectorsConfigBuilder::default();
        dense.add_named_vector_params(DENSE, VectorParamsBuilder::new(dense_dim as u64, Distance::Cosine));
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(SPARSE, SparseVectorParamsBuilder::default().modifier(Modifier::Idf));
        let hnsw = HnswConfigDiffBuilder::default().m(super::HNSW_M as u64).payload_m(super::HNSW_PAYLOAD_M as u64);
        let request = CreateCollectionBuilder::new(self.collection.as_str())
            .vectors_config(dense)
            .sparse_vectors_config(sparse)
            .hnsw_config(hnsw)
            .on_disk_payload(true);
        let Err(e) = self.client.create_collection(request).await else {
            return Ok(());
        };
        // Another replica may have won the race; the caller re-reads the config either way.
        let exists = self.client.collection_exists(self.collection.as_str()).await;
        if matches!(exists, Ok(true)) {
            tracing::debug!(error = %e, "collection created concurrently");
            return Ok(());
        }
        Err(err("create_collection")(e))
    }
}

fn err(what: &'static str) -> impl Fn(QdrantError) -> VectorError {
    move |e| {
        let transient = match &e {
            // `tonic` is not a direct dependency, so the (spec-fixed) gRPC code numbers are
            // used: CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE. The client's channel pool
            // reports a refused connection as INTERNAL (13) "Failed to connect to ...".
            QdrantError::ResponseError { status } => match i32::from(status.code()) {
                1 | 4 | 14 => true,
                13 => status.message().starts_with("Failed to connect"),
                _ => false,
            },
            QdrantError::ResourceExhaustedError { .. } | QdrantError::Io(_) => true,
            _ => false,
        };
        let message = format!("{what}: {e}");
        if transient { VectorError::Unavailable(message) } else { VectorError::Backend(message) }
    }
}

fn server_filter(filter: &VectorFilter) -> Filter {
    Filter::must(filter.conditions().into_iter().map(|(key, values)| Condition::matches(key, values)))
}

fn server_point(p: VectorPoint) -> PointStruct {
    let mut vectors: HashMap<String, Vector> = HashMap::new();
    if let Some(dense) = p.dense {
        vectors.insert(DENSE.to_owned(), Vector::new_dense(dense));
    }
    if let Some(sparse) = p.sparse {
        vectors.insert(SPARSE.to_owned(), Vector::new_sparse(sparse.indices, sparse.values));
    }
    let payload: HashMap<String, Value> = p.payload.to_json_map().into_iter().map(|(k, v)| (k, to_value(v))).collect();
    PointStruct::new(p.id.to_string(), vectors, Payload::from(payload))
}

fn server_query(collection: &str, q: &HybridQuery) -> QueryPointsBuilder {
    let filter = server_filter(&q.filter);
    let mut searches: Vec<(&str, VectorInput)> = Vec::new();
    if let Some(dense) = &q.dense {
        searches.push((DENSE, VectorInput::new_dense(dense.clone())));
    }
    if let Some(sparse) = &q.sparse {
        let input = VectorInput::new_sparse(sparse.indices.clone(), sparse.values.clone());
        searches.push((SPARSE, input));
    }
    let mut request =
        QueryPointsBuilder::new(collection).filter(filter.clone()).limit(q.limit as u64).with_payload(true);
    if let [(using, input)] = searches.as_slice() {
        request = request.query(Query::new_nearest(input.clone())).using(*using);
    } else {
        for (using, input) in searches {
            let prefetch = PrefetchQueryBuilder::default()
                .query(Query::new_nearest(input))
                .using(using)
                // Scoped at every level so a prefetch can never rank another tenant's points.
                .filter(filter.clone())
                .limit(q.effective_prefetch_limit() as u64);
            request = request.add_prefetch(prefetch);
        }
        let rrf = Rrf { k: Some(super::RRF_K as u32), weights: Vec::new() };
        request = request.query(Query::new_rrf(rrf));
    }
    request
}

fn point_uuid(id: PointId) -> Result<Uuid, VectorError> {
    match id.point_id_options {
        Some(PointIdOptions::Uuid(s)) => {
            Uuid::parse_str(&s).map_err(|e| VectorError::Backend(format!("bad point id {s}: {e}")))
        }
        other => Err(VectorError::Backend(format!("unexpected point id {other:?}"))),
    }
}

/// A stored point back in the store's terms (for exports).
fn stored_point(p: RetrievedPoint) -> Result<VectorPoint, VectorError> {
    let id = point_uuid(p.id.unwrap_or_default())?;
    let (mut dense, mut sparse) = (None, None);
    if let Some(vectors) = &p.vectors {
        match vectors.get_vector_by_name(DENSE) {
            Some(StoredVector::Dense(v)) => dense = Some(v.data),
            Some(_) => return Err(VectorError::Backend(format!("point {id}: `{DENSE}` is not a dense vector"))),
            None => {}
        }
        match vectors.get_vector_by_name(SPARSE) {
            Some(StoredVector::Sparse(v)) => sparse = Some(SparseVector { indices: v.indices, values: v.values }),
            Some(_) => return Err(VectorError::Backend(format!("point {id}: `{SPARSE}` is not a sparse vector"))),
            None => {}
        }
    }
    let payload = p.payload.into_iter().map(|(k, v)| (k, from_value(v))).collect();
    Ok(VectorPoint { id, dense, sparse, payload: PointPayload::from_json_map(payload)? })
}

fn scored_point(p: qdrant_client::qdrant::ScoredPoint) -> Result<ScoredPoint, VectorError> {
    let id = point_uuid(p.id.unwrap_or_default())?;
    let payload = p.payload.into_iter().map(|(k, v)| (k, from_value(v))).collect();
    Ok(ScoredPoint { id, score: p.score, payload: PointPayload::from_json_map(payload)? })
}

#[async_trait::async_trait]
impl VectorStore for QdrantVectorStore {
    fn backend(&self) -> &'static str {
        "qdrant"
    }

    async fn ensure_collection(&self, dense_dim: usize) -> Result<(), VectorError> {
        if dense_dim == 0 {
            return Err(VectorError::InvalidInput("dense_dim must be > 0".into()));
        }
        let exists = self.client.collection_exists(self.collection.as_str()).await.map_err(err("collection_exists"))?;
        if !exists {
            self.create_collection(dense_dim).await?;
        }
        let (stored_dim, sparse_idf) = self.stored_layout().await?;
        if stored_dim != Some(dense_dim) || !sparse_idf {
            return Err(VectorError::InvalidInput(format!(
                "collection {} has `{DENSE}` dimension {stored_dim:?} (expected {dense_dim}) and IDF on \
                 `{SPARSE}`: {sparse_idf} (expected true); re-create it or pick another collection name",
                self.collection
            )));
        }
        for (field, is_tenant) in [(ORG_ID, true), (COLLECTION_ID, false), (DOCUMENT_ID, false)] {
            // Re-creating an identical index is accepted by the server, so this stays idempotent.
            let request = CreateFieldIndexCollectionBuilder::new(&self.collection, field, FieldType::Keyword)
                .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(is_tenant))
                .wait(true);
            self.client.create_field_index(request).await.map_err(err("create_field_index"))?;
        }
        let _ = self.dense_dim.set(dense_dim);
        Ok(())
    }

    async fn upsert(&self, points: Vec<VectorPoint>) -> Result<(), VectorError> {
        validate_points(&points, self.dense_dim().await?)?;
        let mut points = points.into_iter().map(server_point).peekable();
        while points.peek().is_some() {
            let chunk: Vec<PointStruct> = points.by_ref().take(UPSERT_CHUNK).collect();
            let request = UpsertPointsBuilder::new(&self.collection, chunk).wait(true);
            self.client.upsert_points(request).await.map_err(err("upsert"))?;
        }
        Ok(())
    }

    async fn delete(&self, filter: &VectorFilter) -> Result<(), VectorError> {
        let request = DeletePointsBuilder::new(&self.collection).points(server_filter(filter)).wait(true);
        self.client.delete_points(request).await.map_err(err("delete"))?;
        Ok(())
    }

    async fn query(&self, q: &HybridQuery) -> Result<Vec<ScoredPoint>, VectorError> {
        validate_query(q, self.dense_dim().await?)?;
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let response = self.client.query(server_query(&self.collection, q)).await.map_err(err("query"))?;
        response.result.into_iter().map(scored_point).collect()
    }

    async fn count(&self, filter: &VectorFilter) -> Result<u64, VectorError> {
        let request = CountPointsBuilder::new(&self.collection).filter(server_filter(filter)).exact(true);
        let response = self.client.count(request).await.map_err(err("count"))?;
        Ok(response.result.map_or(0, |r| r.count))
    }

    async fn document_ids(&self, limit: usize) -> Result<Vec<Uuid>, VectorError> {
        let request = FacetCountsBuilder::new(&self.collection, DOCUMENT_ID)
            .limit(u64::try_from(limit.max(1)).unwrap_or(u64::MAX))
            .exact(true);
        let response = self.client.facet(request).await.map_err(err("facet"))?;
        // An exact facet also lists values whose points were all deleted, with a count of 0 (seen on Qdrant
        // 1.18): those documents have no points.
        Ok(response
            .hits
            .into_iter()
            .filter(|hit| hit.count > 0)
            .filter_map(|hit| match hit.value?.variant? {
                FacetVariant::StringValue(id) => Uuid::parse_str(&id).ok(),
                _ => None,
            })
            .collect())
    }

    async fn delete_documents(&self, ids: &[Uuid]) -> Result<(), VectorError> {
        if ids.is_empty() {
            return Ok(());
        }
        let values: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let filter = Filter::must([Condition::matches(DOCUMENT_ID, values)]);
        let request = DeletePointsBuilder::new(&self.collection).points(filter).wait(true);
        self.client.delete_points(request).await.map_err(err("delete_documents"))?;
        Ok(())
    }

    async fn export_page(&self, from: Option<Uuid>, limit: usize) -> Result<ExportPage, VectorError> {
        let mut request = ScrollPointsBuilder::new(&self.collection)
            .limit(u32::try_from(limit.max(1)).unwrap_or(u32::MAX))
            .with_payload(true)
            .with_vectors(true);
        if let Some(from) = from {
            request = request.offset(PointId::from(from.to_string()));
        }
        let response = self.client.scroll(request).await.map_err(err("scroll"))?;
        let next = response.next_page_offset.map(point_uuid).transpose()?;
        let points = response.result.into_iter().map(stored_point).collect::<Result<_, _>>()?;
        Ok(ExportPage { points, next })
    }

    async fn health(&self) -> Result<(), VectorError> {
        self.client.health_check().await.map_err(err("health_check"))?;
        let exists = self.client.collection_exists(self.collection.as_str()).await.map_err(err("collection_exists"))?;
        if exists {
            Ok(())
        } else {
            Err(VectorError::Unavailable(format!("collection {} does not exist", self.collection)))
        }
    }

    async fn flush(&self) -> Result<(), VectorError> {
        // Writes use `wait=true`, and the server's WAL makes them durable.
        Ok(())
    }
}

fn to_value(v: serde_json::Value) -> Value {
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Kind::IntegerValue(i),
            None => Kind::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(items) => {
            Kind::ListValue(ListValue { values: items.into_iter().map(to_value).collect() })
        }
        serde_json::Value::Object(map) => {
            Kind::StructValue(Struct { fields: map.into_iter().map(|(k, v)| (k, to_value(v))).collect() })
        }
    };
    Value { kind: Some(kind) }
}

fn from_value(v: Value) -> serde_json::Value {
    match v.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(b),
        Some(Kind::IntegerValue(i)) => serde_json::Value::from(i),
        Some(Kind::DoubleValue(f)) => {
            serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)
        }
        Some(Kind::StringValue(s)) => serde_json::Value::String(s),
        Some(Kind::ListValue(list)) => list.values.into_iter().map(from_value).collect(),
        Some(Kind::StructValue(s)) => {
            serde_json::Value::Object(s.fields.into_iter().map(|(k, v)| (k, from_value(v))).collect())
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
