//! Background optimization of the embedded shard.
//!
//! `qdrant-edge` has no optimizer thread: points land in appendable plain segments and stay there, so every
//! dense search is a brute-force scan of the whole shard and grows linearly with it (measured in
//! `benches/README.md`: search p50 at 100k chunks). The store therefore merges segments and builds the HNSW and
//! payload indexes itself once enough points were written since the last time, on the blocking pool and never
//! on the path of the write or request that crossed the threshold.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, TryLockError};

use super::{Inner, engine_err};
use crate::platform::vectors::VectorError;

/// About 5 000 chunks with their window vectors: enough that one optimization is worth its cost (it rebuilds
/// the indexes of the segments it touches), few enough that search never scans many unindexed points.
pub(super) const OPTIMIZE_AFTER_POINTS: usize = 20_000;

impl Inner {
    /// Merges segments and builds indexes, then flushes. The caller holds `optimizing`.
    pub(super) fn optimize_locked(&self) -> Result<(), VectorError> {
        // Points written from here on count towards the next optimization.
        self.unoptimized.store(0, Ordering::Relaxed);
        {
            // Shared: updates go on beside it, and `flush` (exclusive) waits for it, as the engine requires.
            let _shared = self.gate.read().unwrap_or_else(PoisonError::into_inner);
            let changed = self.shard.optimize().map_err(engine_err("optimize"))?;
            tracing::debug!(changed, dir = %self.dir.display(), "vector shard optimized");
        }
        self.flush();
        Ok(())
    }
}

/// Counts `written` points and, past the threshold, starts an optimization in the background unless one runs
/// already (then the count stays high and a later write starts the next one).
pub(super) fn after_upsert(inner: &Arc<Inner>, written: usize) {
    let Some(threshold) = inner.optimize_after_points else { return };
    if inner.unoptimized.fetch_add(written, Ordering::Relaxed) + written < threshold {
        return;
    }
    let inner = inner.clone();
    tokio::task::spawn_blocking(move || {
        let _single = match inner.optimizing.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        let started = std::time::Instant::now();
        // A panic inside the engine must not take the blocking thread's caller down; it is only logged.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.optimize_locked())) {
            Ok(Ok(())) => tracing::info!(elapsed_ms = started.elapsed().as_millis(), "vector shard optimized"),
            Ok(Err(err)) => tracing::error!(error = %err, "background vector optimization failed"),
            Err(_) => tracing::error!("background vector optimization panicked"),
        }
    });
}
