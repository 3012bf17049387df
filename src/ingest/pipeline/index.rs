//! The index step: chunks embedded in batches and written twice, as rows (the truth for text and location) and as
//! points (dense and sparse vectors with the tenant keys).

use uuid::Uuid;

use super::chunker::Chunk;
use super::{StepError, between, passages, pct, set_stage};
use crate::config::WindowVectors;
use crate::ingest::entities::document;
use crate::ingest::store::{self, NewChunk};
use crate::ingest::views::DELETING;
use crate::platform::Backends;
use crate::platform::llm::embeddings::{Embedder, SpannedText, SpannedVectors};
use crate::platform::vectors::{PointPayload, VectorFilter, VectorPoint, bm25_sparse};

/// Chunks per embedding call: enough for the bar to move in about ten steps whatever the document's size, at least
/// a few per call (a forward pass of several chunks keeps both cores busy), and at most 32.
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

/// One batch: its chunks embedded in one call (with their windows where the embedder pools them), then its rows
/// and points written.
async fn index_batch(
    backends: &Backends,
    doc: &document::Model,
    first: usize,
    batch: &[Chunk],
) -> Result<(), StepError> {
    // Window vectors only exist next to a dense model (BM25 scores the chunk as a whole).
    let windows = match backends.embeddings {
        Some(_) => backends.config.embeddings.windows,
        None => WindowVectors::None,
    };
    let inputs = spanned(doc, batch, windows);
    let vectors = match &backends.embeddings {
        Some(embedder) => Some(embed(embedder.as_ref(), windows, &inputs).await?),
        None => None,
    };
    let ids: Vec<Uuid> = batch.iter().map(|_| Uuid::now_v7()).collect();
    let payload = |chunk_id: Uuid, extra: serde_json::Map<String, serde_json::Value>| PointPayload {
        org_id: doc.org_id,
        collection_id: doc.collection_id,
        document_id: doc.id,
        chunk_id,
        extra,
    };
    let mut points = Vec::with_capacity(batch.len() * 4);
    let windows =
        vectors.iter().flatten().enumerate().flat_map(|(offset, v)| v.spans.iter().flatten().map(move |w| (offset, w)));
    for (offset, vector) in windows {
        let mut extra = serde_json::Map::new();
        extra.insert(passages::WINDOW_FLAG.into(), true.into());
        // A chunk found only through a window still knows its neighbours (see `retrieval::with_neighbours`).
        extra.insert("ordinal".into(), (first + offset).into());
        points.push(VectorPoint {
            id: Uuid::now_v7(),
            dense: Some(vector.clone()),
            sparse: None,
            payload: payload(ids[offset], extra),
        });
    }
    let mut rows = Vec::with_capacity(batch.len());
    for (offset, c) in batch.iter().enumerate() {
        let id = ids[offset];
        let mut extra = serde_json::Map::new();
        extra.insert("ordinal".into(), (first + offset).into());
        points.push(VectorPoint {
            id,
            dense: vectors.as_ref().map(|v| v[offset].whole.clone()),
            sparse: Some(bm25_sparse(&inputs[offset].text)),
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

/// What gets embedded for each chunk: its context line and flattened text, with its windows' byte ranges unless
/// `windows` is `None`.
fn spanned(doc: &document::Model, batch: &[Chunk], windows: WindowVectors) -> Vec<SpannedText> {
    batch
        .iter()
        .map(|c| {
            let context = passages::context(&doc.name, &c.location);
            let flat = passages::flat(&c.text);
            let spans = match windows {
                WindowVectors::None => Vec::new(),
                _ => passages::windows(&flat)
                    .into_iter()
                    .map(|r| r.start + context.len()..r.end + context.len())
                    .collect(),
            };
            SpannedText { context: context.len(), text: context + &flat, spans }
        })
        .collect()
}

/// The chunks' vectors, each with its windows' vectors as `windows` asks: pooled from the chunk's pass (where the
/// embedder can), embedded as inputs of their own, or none.
async fn embed(
    embedder: &dyn Embedder,
    windows: WindowVectors,
    inputs: &[SpannedText],
) -> Result<Vec<SpannedVectors>, StepError> {
    if windows != WindowVectors::Separate {
        return Ok(embedder.embed_spans(inputs).await?);
    }
    // Each window behind the chunk's context line, as an input of its own, in the same call as the chunks.
    let mut texts: Vec<String> = inputs.iter().map(|i| i.text.clone()).collect();
    for input in inputs {
        texts.extend(
            input.spans.iter().map(|span| format!("{}{}", &input.text[..input.context], &input.text[span.clone()])),
        );
    }
    let mut vectors = embedder.embed(&texts).await?.into_iter();
    let wholes: Vec<Vec<f32>> = vectors.by_ref().take(inputs.len()).collect();
    Ok(wholes
        .into_iter()
        .zip(inputs)
        .map(|(whole, input)| SpannedVectors {
            whole,
            spans: vectors.by_ref().take(input.spans.len()).map(Some).collect(),
        })
        .collect())
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
