//! The index step: chunks embedded in batches and written twice, as rows (the truth for text and location) and as
//! points (dense and sparse vectors with the tenant keys).

use uuid::Uuid;

use super::chunker::Chunk;
use super::{StepError, between, passages, pct, set_stage};
use crate::ingest::entities::document;
use crate::ingest::store::{self, NewChunk};
use crate::ingest::views::DELETING;
use crate::platform::Backends;
use crate::platform::vectors::{PointPayload, VectorFilter, VectorPoint, bm25_sparse};

/// Chunks per embedding call: enough for the bar to move in about ten steps whatever the document's size, at least
/// a few per call (with their window texts some 20 inputs, which keeps the model busy), and at most 32.
fn embed_batch(chunks: usize) -> usize {
    chunks.div_ceil(10).clamp(4, 32)
}

/// Replaces whatever an earlier run wrote for `doc` with `chunks`; returns how many were written.
pub(super) async fn index(backends: &Backends, doc: &document::Model, chunks: &[Chunk]) -> Result<usize, StepError> {
    // A rerun (retry, reprocess) replaces everything a previous run wrote. A first run has nothing to remove, and
    // counting through the document-id index is far cheaper than a delete by filter (a write that scans the shard
    // and, on the embedded engine, flushes it).
    let filter = VectorFilter::org(doc.org_id).with_documents([doc.id]);
    if backends.vectors.count(&filter).await? > 0 {
        backends.vectors.delete(&filter).await?;
    }
    store::delete_chunks(&backends.db, doc.id).await?;
    let total = chunks.len();
    set_stage(backends, doc, "indexing", pct::INDEXING).await?;
    let size = embed_batch(total);
    for (batch_index, batch) in chunks.chunks(size).enumerate() {
        let first = batch_index * size;
        index_batch(backends, doc, first, batch).await?;
        let done = first + batch.len();
        let now = between(pct::INDEXING, pct::INDEXED, done as f32 / total as f32);
        set_stage(backends, doc, "indexing", now).await?;
    }
    Ok(total)
}

/// One batch: its texts and windows embedded in one call, then its rows and points written.
async fn index_batch(
    backends: &Backends,
    doc: &document::Model,
    first: usize,
    batch: &[Chunk],
) -> Result<(), StepError> {
    let inputs: Vec<String> =
        batch.iter().map(|c| passages::contextual_text(&doc.name, &c.location, &c.text)).collect();
    // Window vectors only exist next to a dense model (BM25 scores the chunk as a whole).
    let windows: Vec<(usize, String)> = match &backends.embeddings {
        Some(_) => batch
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                let name = &doc.name;
                passages::windows(c).into_iter().map(move |w| (i, passages::contextual_text(name, &c.location, &w)))
            })
            .collect(),
        None => Vec::new(),
    };
    let (dense, window_dense) = match &backends.embeddings {
        Some(embedder) => {
            let mut all = inputs.clone();
            all.extend(windows.iter().map(|(_, text)| text.clone()));
            let mut vectors = embedder.embed(&all).await?;
            let window_vectors = vectors.split_off(inputs.len());
            (Some(vectors), window_vectors)
        }
        None => (None, Vec::new()),
    };
    let ids: Vec<Uuid> = batch.iter().map(|_| Uuid::now_v7()).collect();
    let payload = |chunk_id: Uuid, extra: serde_json::Map<String, serde_json::Value>| PointPayload {
        org_id: doc.org_id,
        collection_id: doc.collection_id,
        document_id: doc.id,
        chunk_id,
        extra,
    };
    let mut points = Vec::with_capacity(batch.len() + windows.len());
    for ((offset, _), vector) in windows.iter().zip(window_dense) {
        let mut extra = serde_json::Map::new();
        extra.insert(passages::WINDOW_FLAG.into(), true.into());
        points.push(VectorPoint {
            id: Uuid::now_v7(),
            dense: Some(vector),
            sparse: None,
            payload: payload(ids[*offset], extra),
        });
    }
    let mut rows = Vec::with_capacity(batch.len());
    for (offset, c) in batch.iter().enumerate() {
        let id = ids[offset];
        let mut extra = serde_json::Map::new();
        extra.insert("ordinal".into(), (first + offset).into());
        points.push(VectorPoint {
            id,
            dense: dense.as_ref().map(|d| d[offset].clone()),
            sparse: Some(bm25_sparse(&inputs[offset])),
            payload: payload(id, extra),
        });
        rows.push(NewChunk {
            id,
            ordinal: i32::try_from(first + offset).unwrap_or(i32::MAX),
            text: c.text.clone(),
            page: c.location.page.and_then(|p| i32::try_from(p).ok()),
            slide: c.location.slide.and_then(|s| i32::try_from(s).ok()),
            heading_path: c.location.heading_path.join(" > "),
            start_ms: c.start_ms.and_then(|t| i64::try_from(t).ok()),
            end_ms: c.end_ms.and_then(|t| i64::try_from(t).ok()),
            token_count: i32::try_from(c.token_count).unwrap_or(i32::MAX),
        });
    }
    if let Err(err) = store::insert_chunks(&backends.db, doc, rows).await {
        // A deletion that removed the row makes the insert fail on its foreign key: that is not worth a retry.
        return Err(if still_wanted(backends, doc).await? { StepError::Retry(err.into()) } else { StepError::Gone });
    }
    backends.vectors.upsert(points).await?;
    // The deletion may have begun while these were written, after it removed the document's vectors: remove them
    // again. (A deletion that begins after this check removes its vectors after these writes.)
    if !still_wanted(backends, doc).await? {
        let filter = VectorFilter::org(doc.org_id).with_documents([doc.id]);
        backends.vectors.delete(&filter).await?;
        return Err(StepError::Gone);
    }
    Ok(())
}

/// Whether the document is still there and not being deleted.
async fn still_wanted(backends: &Backends, doc: &document::Model) -> Result<bool, StepError> {
    let status = store::document_status(&backends.db, doc.id).await?;
    Ok(status.is_some_and(|s| s != DELETING))
}

#[cfg(test)]
mod tests {
    #[test]
    fn batches_give_about_ten_steps_within_bounds() {
        assert_eq!(super::embed_batch(1), 4);
        assert_eq!(super::embed_batch(25), 4);
        assert_eq!(super::embed_batch(100), 10);
        assert_eq!(super::embed_batch(5000), 32);
    }
}
