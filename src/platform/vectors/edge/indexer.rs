//! HNSW for the embedded engine, built in the background while writes go on.
//!
//! The engine has no optimizer thread: `EdgeShard::optimize` builds indexes synchronously. Without it every
//! point stays in plain segments searched by brute force (at 100k chunks a search took 134 ms against 20 ms at
//! 10k). So after enough new points an index build starts on a thread of its own, and writes do not wait for it:
//! the engine applies updates beside an optimization (it works on proxies of the segments, as the Qdrant server
//! does), and only its `flush` objects, because it `expect`s to get the segment holder's lock with `try_lock`,
//! which fails (a panic) in the moments an optimization swaps segments. A flush that lands in such a moment is
//! caught and retried (see [`flush_shard`]).
//!
//! Builds are spaced geometrically (the next after a quarter of the points already stored, at least
//! `every`), because a build may merge and re-index the big segments: the total indexing work stays a small
//! multiple of the data, not its square.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Once, PoisonError};
use std::time::{Duration, Instant};

use qdrant_edge::EdgeShard;

use super::Inner;

/// The engine's `expect` messages when `flush` cannot take a lock at once.
const LOCK_PANICS: [&str; 2] = ["segment holder lock acquired", "WAL lock acquired"];

pub(super) struct Indexer {
    /// Points written since the last build; `None` turns background builds off.
    every: Option<usize>,
    written: AtomicUsize,
    /// Shared with the build's thread, which clears it only after dropping its handle on the shard: once a build
    /// is seen finished, dropping the store releases the directory (a reopen right after does not race it).
    running: Arc<AtomicBool>,
}

impl Indexer {
    pub(super) fn new(every: Option<usize>) -> Self {
        Self { every, written: AtomicUsize::new(0), running: Arc::new(AtomicBool::new(false)) }
    }

    /// Whether a background build is under way (for tests and stats).
    pub(super) fn running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }
}

thread_local! {
    /// Set around a flush that may meet an optimization, so the panic hook stays quiet about the expected lock
    /// failure, which is caught and retried.
    static EXPECTING_PANIC: Cell<bool> = const { Cell::new(false) };
}

fn quiet_expected_panics() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !EXPECTING_PANIC.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str)).unwrap_or("")
}

/// `shard.flush()`, retried while an optimization holds the segment holder's lock for a moment. Any other
/// failure (a full or vanished disk) is logged and re-raised, as the engine would.
pub(super) fn flush_shard(shard: &EdgeShard) {
    quiet_expected_panics();
    let mut attempt = 0u32;
    loop {
        EXPECTING_PANIC.with(|e| e.set(true));
        let result = catch_unwind(AssertUnwindSafe(|| shard.flush()));
        EXPECTING_PANIC.with(|e| e.set(false));
        let Err(panic) = result else { return };
        let message = panic_message(panic.as_ref());
        attempt += 1;
        // An optimization holds the lock for milliseconds at a time: 10 s of retries is far beyond that.
        if LOCK_PANICS.iter().any(|m| message.contains(m)) && attempt < 5_000 {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        tracing::error!(message, attempt, "the vector engine failed to flush");
        resume_unwind(panic);
    }
}

/// Counts `points` just written; past the threshold, starts a build on a thread of its own unless one runs.
pub(super) fn wrote(inner: &Arc<Inner>, points: usize) {
    let Some(every) = inner.indexer.every else { return };
    let written = inner.indexer.written.fetch_add(points, Ordering::AcqRel) + points;
    if written < every {
        return;
    }
    let stored = inner.shard.info().points_count;
    if written < every.max(stored / 4) || inner.indexer.running.swap(true, Ordering::AcqRel) {
        return;
    }
    inner.indexer.written.store(0, Ordering::Release);
    let (worker, running) = (Arc::clone(inner), Arc::clone(&inner.indexer.running));
    let spawned = std::thread::Builder::new().name("vector-index".into()).spawn(move || {
        build(&worker);
        drop(worker);
        running.store(false, Ordering::Release);
    });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "could not start a vector index build");
        inner.indexer.running.store(false, Ordering::Release);
    }
}

fn build(inner: &Inner) {
    let started = Instant::now();
    let outcome = {
        let _single = inner.optimizing.lock().unwrap_or_else(PoisonError::into_inner);
        catch_unwind(AssertUnwindSafe(|| inner.shard.optimize()))
    };
    match outcome {
        Ok(Ok(changed)) => {
            inner.flush();
            let info = inner.shard.info();
            tracing::info!(
                changed,
                points = info.points_count,
                indexed_vectors = info.indexed_vectors_count,
                segments = info.segments_count,
                secs = started.elapsed().as_secs_f64(),
                "built the vector index in the background"
            );
        }
        Ok(Err(err)) => tracing::warn!(error = %err, "background vector index build failed"),
        Err(panic) => {
            tracing::error!(message = panic_message(panic.as_ref()), "background vector index build panicked")
        }
    }
}
