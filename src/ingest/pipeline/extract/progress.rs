//! How far a running extraction has got, shared with the job that shows it.

use std::sync::atomic::{AtomicU32, Ordering};

/// How far an extraction has got in the format's own steps (PDF pages, slides), read by the job for its
/// progress bar while the extractor runs on a blocking thread. Formats without such steps leave it empty.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicU32,
    total: AtomicU32,
}

impl Progress {
    /// Share of the steps done, once the extractor knows how many there are.
    pub fn fraction(&self) -> Option<f32> {
        let total = self.total.load(Ordering::Relaxed);
        (total > 0).then(|| self.done.load(Ordering::Relaxed).min(total) as f32 / total as f32)
    }

    pub(super) fn set(&self, done: usize, total: usize) {
        self.total.store(u32::try_from(total).unwrap_or(u32::MAX), Ordering::Relaxed);
        self.done.store(u32::try_from(done).unwrap_or(u32::MAX), Ordering::Relaxed);
    }
}
