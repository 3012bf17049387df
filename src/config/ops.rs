//! Operations settings; see `[backup]` in config/default.toml.

use std::path::PathBuf;

use serde::Deserialize;

/// Scheduled backups, taken by one replica per period.
#[derive(Debug, Clone, Deserialize)]
pub struct BackupSettings {
    /// Hours between backups; 0: none scheduled (`bwenge backup` still works).
    pub interval_hours: u64,
    /// Where scheduled backups go; empty: `<data_dir>/backups`.
    pub dir: String,
    /// How many scheduled backups are kept; older ones are deleted after a new one is written.
    pub keep: usize,
}

impl BackupSettings {
    pub fn dir(&self, data_dir: &std::path::Path) -> PathBuf {
        if self.dir.is_empty() { data_dir.join("backups") } else { PathBuf::from(&self.dir) }
    }
}
