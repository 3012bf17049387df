//! Embedded backend: Qdrant's engine in-process (`qdrant-edge` 0.7.0), one shard per directory.
//!
//! Engine facts this file is built around (read from the 0.7.0 sources):
//! * Every call is synchronous, so all of them run on the blocking pool.
//! * The shard writes a WAL but never replays it on load, so a write is only durable once
//!   `EdgeShard::flush` ran; hence flush-on-write by default.
//! * `EdgeShard::flush` `expect`s to get the WAL and segment-holder locks with `try_lock`, so it
//!   panics if an update or an optimization is in flight. `Inner::gate` serialises exactly those.
//! * There is no background optimizer: without `optimize()` everything stays in plain
//!   (brute-force) segments.
//! * Nothing stops two shards from opening the same directory, so an OS file lock does.

use std::fs::{File, TryLockError};
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use qdrant_edge::{
    CountRequest, CreateIndex, EdgeShard, FacetRequest, FacetValue, FieldIndexOperations, KeywordIndexParams,
    PayloadFieldSchema, PayloadSchemaParams, PointId, PointInsertOperations, PointOperations, ScrollRequest,
    UpdateOperation, WithPayloadInterface, WithVector,
};
use uuid::Uuid;

pub use self::config::EdgeOptions;
use self::config::shard_config;
use super::{
    COLLECTION_ID, DOCUMENT_ID, ExportPage, HybridQuery, ORG_ID, ScoredPoint, VectorError, VectorFilter, VectorPoint,
    VectorStore, blocking, validate_points, validate_query,
};

mod config;
mod convert;
mod indexer;
mod wal;

use convert::{
    documents_filter, edge_filter, edge_point, edge_query, engine_err, json_path, scored_point, stored_point,
};

const LOCK_FILE: &str = ".bwenge-vectors.lock";
/// Bounds the size of one WAL record (the whole operation is serialised into it).
const UPSERT_CHUNK: usize = 256;

/// Shard layout numbers, for metrics and tests. `indexed_vectors` counts dense and sparse.
#[derive(Debug, Clone)]
pub struct EdgeStats {
    pub segments: usize,
    pub points: usize,
    pub indexed_vectors: usize,
    pub indexed_fields: Vec<String>,
    /// A background index build is under way.
    pub indexing: bool,
}

pub struct EdgeVectorStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Dropped by hand in `Drop for Inner`, before the directory lock is released (see there).
    shard: ManuallyDrop<EdgeShard>,
    dir: PathBuf,
    dense_dim: usize,
    flush_on_write: bool,
    /// Updates take it shared, `flush` exclusively (see module docs); optimizations stay out of it.
    gate: RwLock<()>,
    optimizing: Mutex<()>,
    indexer: indexer::Indexer,
    _dir_lock: File,
}

impl Drop for Inner {
    /// `EdgeShard`'s own `Drop` flushes with `expect`: a vanished or full disk would panic there, and abort
    /// the process if it was already unwinding. So flush first under `catch_unwind`, and drop the shard
    /// (which flushes again, a no-op by then) only if that worked; a shard that cannot flush is leaked,
    /// which loses nothing that a failed flush had not lost already.
    fn drop(&mut self) {
        let flushed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.shard.flush())).is_ok();
        if flushed {
            // SAFETY: `shard` is never touched again: this is `Inner`'s destructor.
            unsafe { ManuallyDrop::drop(&mut self.shard) };
        } else {
            tracing::error!(dir = %self.dir.display(), "vector shard could not flush at close; leaking it");
        }
    }
}

impl EdgeVectorStore {
    /// Opens the shard in `dir`, creating it if needed. Blocking (it loads segments): call it at
    /// startup or from `spawn_blocking`.
    pub fn open(dir: &Path, dense_dim: usize) -> Result<Self, VectorError> {
        Self::open_with(dir, dense_dim, EdgeOptions::default())
    }

    pub fn open_with(dir: &Path, dense_dim: usize, opts: EdgeOptions) -> Result<Self, VectorError> {
        if dense_dim == 0 {
            return Err(VectorError::InvalidInput("dense_dim must be > 0".into()));
        }
        let io = |what: &str, e: std::io::Error| VectorError::Backend(format!("{what} {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(|e| io("creating", e))?;
        let dir_lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))
            .map_err(|e| io("opening lock file in", e))?;
        dir_lock.try_lock().map_err(|e| match e {
            TryLockError::WouldBlock => VectorError::Backend(format!(
                "vector store {} is already open (another process, or a store not yet dropped)",
                dir.display()
            )),
            TryLockError::Error(e) => io("locking", e),
        })?;

        match wal::trim(dir) {
            Ok(0) => {}
            Ok(freed) => tracing::info!(dir = %dir.display(), freed_bytes = freed, "trimmed the vector engine's WAL"),
            Err(e) => return Err(io("trimming the WAL of", e)),
        }
        let config = shard_config(dense_dim, &opts);
        // `load` with an explicit config also checks it against the existing segments, so
        // reopening with another dimension fails here rather than at the first query.
        let shard = if dir.join("edge_config.json").exists() {
            EdgeShard::load(dir, Some(config))
        } else {
            EdgeShard::new(dir, config)
        }
        .map_err(|e| VectorError::Backend(format!("opening shard {}: {e}", dir.display())))?;

        let inner = Inner {
            shard: ManuallyDrop::new(shard),
            dir: dir.to_path_buf(),
            dense_dim,
            flush_on_write: opts.flush_on_write,
            gate: RwLock::new(()),
            optimizing: Mutex::new(()),
            indexer: indexer::Indexer::new(opts.background_index_points),
            _dir_lock: dir_lock,
        };
        inner.ensure_payload_indexes()?;
        Ok(Self { inner: Arc::new(inner) })
    }

    async fn run<T, F>(&self, what: &'static str, f: F) -> Result<T, VectorError>
    where
        T: Send + 'static,
        F: FnOnce(&Arc<Inner>) -> Result<T, VectorError> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(what, move || f(&inner)).await
    }

    /// Segment/index counts, e.g. to export as metrics.
    pub async fn stats(&self) -> Result<EdgeStats, VectorError> {
        self.run("stats", |inner| {
            let info = inner.shard.info();
            let mut indexed_fields: Vec<String> = info.payload_schema.keys().map(|k| k.to_string()).collect();
            indexed_fields.sort();
            Ok(EdgeStats {
                segments: info.segments_count,
                points: info.points_count,
                indexed_vectors: info.indexed_vectors_count,
                indexed_fields,
                indexing: inner.indexer.running(),
            })
        })
        .await
    }
}

impl Inner {
    fn update(&self, what: &'static str, op: UpdateOperation) -> Result<(), VectorError> {
        let _shared = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        self.shard.update(op).map_err(engine_err(what))
    }

    fn flush(&self) {
        let _exclusive = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        indexer::flush_shard(&self.shard);
    }

    fn after_write(&self) {
        if self.flush_on_write {
            self.flush();
        }
    }

    /// Issued on every open: the engine builds a fresh appendable segment from its own (empty)
    /// schema file on load, and an index that already exists is a no-op.
    fn ensure_payload_indexes(&self) -> Result<(), VectorError> {
        for (field, is_tenant) in [(ORG_ID, true), (COLLECTION_ID, false), (DOCUMENT_ID, false)] {
            let params = KeywordIndexParams { is_tenant: is_tenant.then_some(true), ..KeywordIndexParams::default() };
            let op = FieldIndexOperations::CreateIndex(CreateIndex {
                field_name: json_path(field)?,
                field_schema: Some(PayloadFieldSchema::FieldParams(PayloadSchemaParams::Keyword(params))),
            });
            self.update("creating payload index", UpdateOperation::FieldIndexOperation(op))?;
        }
        self.flush();
        Ok(())
    }
}

#[async_trait::async_trait]
impl VectorStore for EdgeVectorStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn ensure_collection(&self, dense_dim: usize) -> Result<(), VectorError> {
        if dense_dim != self.inner.dense_dim {
            return Err(VectorError::InvalidInput(format!(
                "store at {} was opened with dimension {}, not {dense_dim}",
                self.inner.dir.display(),
                self.inner.dense_dim
            )));
        }
        self.run("ensure_collection", |inner| inner.ensure_payload_indexes()).await
    }

    async fn upsert(&self, points: Vec<VectorPoint>) -> Result<(), VectorError> {
        validate_points(&points, self.inner.dense_dim)?;
        if points.is_empty() {
            return Ok(());
        }
        let count = points.len();
        self.run("upsert", move |inner| {
            let mut points = points.into_iter().map(edge_point);
            loop {
                let chunk = points.by_ref().take(UPSERT_CHUNK).collect::<Result<Vec<_>, _>>()?;
                if chunk.is_empty() {
                    break;
                }
                let op = PointOperations::UpsertPoints(PointInsertOperations::PointsList(chunk));
                inner.update("upsert", UpdateOperation::PointOperation(op))?;
            }
            inner.after_write();
            indexer::wrote(inner, count);
            Ok(())
        })
        .await
    }

    async fn delete(&self, filter: &VectorFilter) -> Result<(), VectorError> {
        let filter = edge_filter(filter)?;
        self.run("delete", move |inner| {
            let op = PointOperations::DeletePointsByFilter(filter);
            inner.update("delete", UpdateOperation::PointOperation(op))?;
            inner.after_write();
            Ok(())
        })
        .await
    }

    async fn query(&self, q: &HybridQuery) -> Result<Vec<ScoredPoint>, VectorError> {
        validate_query(q, self.inner.dense_dim)?;
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let request = edge_query(q)?;
        self.run("query", move |inner| {
            let points = inner.shard.query(request).map_err(engine_err("query"))?;
            points.into_iter().map(scored_point).collect()
        })
        .await
    }

    async fn count(&self, filter: &VectorFilter) -> Result<u64, VectorError> {
        let filter = edge_filter(filter)?;
        self.run("count", move |inner| {
            let request = CountRequest { filter: Some(filter), exact: true };
            let n = inner.shard.count(request).map_err(engine_err("count"))?;
            Ok(n as u64)
        })
        .await
    }

    async fn document_ids(&self, limit: usize) -> Result<Vec<Uuid>, VectorError> {
        let key = json_path(DOCUMENT_ID)?;
        self.run("facet", move |inner| {
            let request = FacetRequest { key, limit: limit.max(1), filter: None, exact: true };
            let response = inner.shard.facet(request).map_err(engine_err("facet"))?;
            Ok(response
                .hits
                .into_iter()
                .filter_map(|hit| match hit.value {
                    FacetValue::Keyword(id) => Uuid::parse_str(&id).ok(),
                    _ => None,
                })
                .collect())
        })
        .await
    }

    async fn delete_documents(&self, ids: &[Uuid]) -> Result<(), VectorError> {
        if ids.is_empty() {
            return Ok(());
        }
        let filter = documents_filter(ids)?;
        self.run("delete_documents", move |inner| {
            let op = UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter));
            inner.update("delete_documents", op)?;
            inner.after_write();
            Ok(())
        })
        .await
    }

    async fn export_page(&self, from: Option<Uuid>, limit: usize) -> Result<ExportPage, VectorError> {
        self.run("export", move |inner| {
            let request = ScrollRequest {
                offset: from.map(PointId::Uuid),
                limit: Some(limit.max(1)),
                filter: None,
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: WithVector::Bool(true),
                order_by: None,
            };
            let (records, next) = inner.shard.scroll(request).map_err(engine_err("scroll"))?;
            let next = match next {
                Some(PointId::Uuid(id)) => Some(id),
                Some(other) => return Err(VectorError::Backend(format!("unexpected numeric point id {other}"))),
                None => None,
            };
            Ok(ExportPage { points: records.into_iter().map(stored_point).collect::<Result<_, _>>()?, next })
        })
        .await
    }

    async fn health(&self) -> Result<(), VectorError> {
        self.run("health", |inner| {
            // Catches a deleted or unmounted data directory, which the mmaps would not notice.
            std::fs::metadata(inner.dir.join("edge_config.json"))
                .map_err(|e| VectorError::Unavailable(format!("{}: {e}", inner.dir.display())))?;
            let _ = inner.shard.info();
            Ok(())
        })
        .await
    }

    async fn flush(&self) -> Result<(), VectorError> {
        self.run("flush", |inner| {
            inner.flush();
            Ok(())
        })
        .await
    }

    async fn optimize(&self) -> Result<(), VectorError> {
        self.run("optimize", |inner| {
            // Not under the gate: writes go on beside it (see indexer.rs).
            let _single = inner.optimizing.lock().unwrap_or_else(PoisonError::into_inner);
            let changed = inner.shard.optimize().map_err(engine_err("optimize"))?;
            tracing::debug!(changed, dir = %inner.dir.display(), "vector shard optimized");
            inner.flush();
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests;
