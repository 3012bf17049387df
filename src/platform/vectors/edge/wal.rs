//! Trimming the embedded engine's write-ahead log, which the engine itself never does.
//!
//! `qdrant-edge` 0.7.0 appends every update to its WAL (`wal/open-N` files that become `closed-<first index>`
//! when full) but neither replays nor truncates it: the engine's shard never calls `ack`. Left alone the WAL holds
//! every write ever made (the text payload of every chunk included) and is opened and checked entry by entry at
//! every start, so start-up and disk use grow with history. Every write here is flushed into the segments before
//! it is acknowledged (flush-on-write), so the log is never needed again once written.
//!
//! It cannot simply be deleted: the WAL's entry numbers are the engine's operation numbers, and a segment skips
//! an operation numbered at or below its own version, so a log restarted at 0 would have every later write
//! silently ignored. Deleting the older closed segments and keeping the newest one (which carries the numbering
//! forward) is exactly the WAL's own `prefix_truncate` with its default retention of one closed segment. It runs
//! before the shard opens the log, while the directory lock keeps any other process out.

use std::path::Path;

/// Removes every closed WAL segment but the newest in `shard_dir/wal`. Returns the bytes freed.
pub(super) fn trim(shard_dir: &Path) -> std::io::Result<u64> {
    let wal = shard_dir.join("wal");
    let entries = match std::fs::read_dir(&wal) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut closed: Vec<(u64, std::path::PathBuf, u64)> = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(start) = name.to_str().and_then(|n| n.strip_prefix("closed-")).and_then(|n| n.parse().ok()) else {
            continue;
        };
        closed.push((start, entry.path(), entry.metadata()?.len()));
    }
    closed.sort_unstable_by_key(|(start, ..)| *start);
    closed.pop(); // the newest stays: the numbering continues from it
    let mut freed = 0;
    // Oldest first, as the WAL truncates: a crash halfway leaves a contiguous suffix, which it opens fine.
    for (_, path, len) in closed {
        std::fs::remove_file(&path)?;
        freed += len;
    }
    Ok(freed)
}
