//! Translations between the store's types and the embedded engine's: filters, points, hybrid queries, results
//! and errors.

use std::collections::HashMap;

use qdrant_edge::{
    Condition, FieldCondition, Filter, Fusion, JsonPath, Match, NamedQuery, Payload, PointId, PointStructPersisted,
    Prefetch, QueryEnum, QueryRequest, Record, ScoringQuery, ValueVariants, VectorInternal, VectorPersisted,
    VectorStructInternal, VectorStructPersisted, WithPayloadInterface, WithVector,
};

use crate::platform::vectors::{
    DENSE, HybridQuery, PointPayload, RRF_K, SPARSE, ScoredPoint, SparseVector, VectorError, VectorFilter, VectorPoint,
};

pub(super) fn json_path(key: &str) -> Result<JsonPath, VectorError> {
    JsonPath::try_from(key).map_err(|()| VectorError::Backend(format!("bad payload key {key}")))
}

pub(super) fn edge_filter(filter: &VectorFilter) -> Result<Filter, VectorError> {
    let must = filter
        .conditions()
        .into_iter()
        .map(|(key, mut values)| {
            let matcher = match values.len() {
                1 => Match::new_value(ValueVariants::String(values.remove(0))),
                _ => Match::from(values),
            };
            Ok(Condition::Field(FieldCondition::new_match(json_path(key)?, matcher)))
        })
        .collect::<Result<Vec<_>, VectorError>>()?;
    Ok(Filter { should: None, min_should: None, must: Some(must), must_not: None })
}

/// Points of any of these documents (maintenance: no org condition).
pub(super) fn documents_filter(ids: &[uuid::Uuid]) -> Result<Filter, VectorError> {
    let values: Vec<String> = ids.iter().map(uuid::Uuid::to_string).collect();
    let condition = FieldCondition::new_match(json_path(crate::platform::vectors::DOCUMENT_ID)?, Match::from(values));
    Ok(Filter { should: None, min_should: None, must: Some(vec![Condition::Field(condition)]), must_not: None })
}

pub(super) fn edge_sparse(v: SparseVector) -> Result<qdrant_edge::SparseVector, VectorError> {
    qdrant_edge::SparseVector::new(v.indices, v.values)
        .map_err(|e| VectorError::InvalidInput(format!("sparse vector: {e}")))
}

pub(super) fn edge_point(p: VectorPoint) -> Result<PointStructPersisted, VectorError> {
    let mut vectors = HashMap::new();
    if let Some(dense) = p.dense {
        vectors.insert(DENSE.to_owned(), VectorPersisted::Dense(dense));
    }
    if let Some(sparse) = p.sparse {
        vectors.insert(SPARSE.to_owned(), VectorPersisted::Sparse(edge_sparse(sparse)?));
    }
    Ok(PointStructPersisted {
        id: PointId::Uuid(p.id),
        vector: VectorStructPersisted::Named(vectors),
        payload: Some(Payload(p.payload.to_json_map())),
    })
}

/// A stored point back in the store's terms (for exports).
pub(super) fn stored_point(record: Record) -> Result<VectorPoint, VectorError> {
    let PointId::Uuid(id) = record.id else {
        return Err(VectorError::Backend(format!("unexpected numeric point id {}", record.id)));
    };
    let payload = record.payload.ok_or_else(|| VectorError::Backend(format!("point {id} stored without payload")))?;
    let (mut dense, mut sparse) = (None, None);
    if let Some(VectorStructInternal::Named(vectors)) = record.vector {
        for (name, vector) in vectors {
            match (name.as_str(), vector) {
                (DENSE, VectorInternal::Dense(v)) => dense = Some(v),
                (SPARSE, VectorInternal::Sparse(v)) => {
                    sparse = Some(SparseVector { indices: v.indices, values: v.values });
                }
                (other, _) => return Err(VectorError::Backend(format!("point {id} has unexpected vector {other}"))),
            }
        }
    }
    Ok(VectorPoint { id, dense, sparse, payload: PointPayload::from_json_map(payload.0)? })
}

pub(super) fn nearest(using: &str, vector: VectorInternal) -> ScoringQuery {
    ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(vector, using)))
}

pub(super) fn edge_query(q: &HybridQuery) -> Result<QueryRequest, VectorError> {
    let filter = edge_filter(&q.filter)?;
    let mut searches = Vec::new();
    if let Some(dense) = &q.dense {
        searches.push(nearest(DENSE, VectorInternal::Dense(dense.clone())));
    }
    if let Some(sparse) = &q.sparse {
        let sparse = VectorInternal::Sparse(edge_sparse(sparse.clone())?);
        searches.push(nearest(SPARSE, sparse));
    }
    let (prefetches, query) = if searches.len() == 1 {
        (Vec::new(), searches.pop())
    } else {
        let prefetches = searches
            .into_iter()
            .map(|query| Prefetch {
                prefetches: Vec::new(),
                query: Some(query),
                limit: q.effective_prefetch_limit(),
                params: None,
                // Scoped at every level so a prefetch can never rank another tenant's points.
                filter: Some(filter.clone()),
                score_threshold: None,
            })
            .collect();
        let fusion = Fusion::Rrf { k: RRF_K, weights: None };
        (prefetches, Some(ScoringQuery::Fusion(fusion)))
    };
    Ok(QueryRequest {
        prefetches,
        query,
        filter: Some(filter),
        score_threshold: None,
        limit: q.limit,
        offset: 0,
        params: None,
        with_vector: WithVector::Bool(false),
        with_payload: WithPayloadInterface::Bool(true),
    })
}

pub(super) fn scored_point(p: qdrant_edge::ScoredPoint) -> Result<ScoredPoint, VectorError> {
    let PointId::Uuid(id) = p.id else {
        return Err(VectorError::Backend(format!("unexpected numeric point id {}", p.id)));
    };
    let payload = p.payload.ok_or_else(|| VectorError::Backend(format!("point {id} returned without payload")))?;
    Ok(ScoredPoint { id, score: p.score, payload: PointPayload::from_json_map(payload.0)? })
}

pub(super) fn engine_err(what: &'static str) -> impl Fn(qdrant_edge::OperationError) -> VectorError {
    move |e| VectorError::Backend(format!("{what}: {e}"))
}
