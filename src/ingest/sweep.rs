//! The orphan sweep: vectors and files whose document row is gone. Uploads and deletions order their steps so
//! that a failure leaves at worst such orphans (never a row without its data), and this job removes them. It runs on
//! the durable queue every `ingest.orphan_sweep_secs`, once per period however many replicas there are (one job
//! per period, by its dedupe key).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::store;
use crate::platform::Backends;
use crate::platform::jobs::{self, Job, JobError, JobHandler};

pub const KIND: &str = "ingest.orphan_sweep";
/// Vector documents listed per sweep; a store with more is swept a part per period.
const MAX_DOCUMENTS: usize = 1_000_000;
/// A file younger than this may belong to an upload whose row is being written: left for the next sweep.
const BLOB_GRACE: chrono::Duration = chrono::Duration::hours(1);

/// What one sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub vector_documents: usize,
    pub blobs: usize,
}

pub struct SweepJob {
    pub backends: Backends,
}

#[async_trait::async_trait]
impl JobHandler for SweepJob {
    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        let swept = sweep(&self.backends).await.map_err(JobError::Retry)?;
        tracing::info!(vector_documents = swept.vector_documents, blobs = swept.blobs, "orphan sweep done");
        Ok(())
    }
}

/// One sweep, now.
pub async fn sweep(backends: &Backends) -> anyhow::Result<Swept> {
    let with_vectors = backends.vectors.document_ids(MAX_DOCUMENTS).await?;
    let existing = store::existing_documents(&backends.db, &with_vectors).await?;
    let orphans: Vec<Uuid> = with_vectors.into_iter().filter(|id| !existing.contains(id)).collect();
    backends.vectors.delete_documents(&orphans).await?;

    let cutoff = chrono::Utc::now() - BLOB_GRACE;
    let blobs: Vec<(String, Uuid)> = backends
        .objects
        .list("org")
        .await?
        .into_iter()
        .filter(|(_, written)| *written < cutoff)
        .filter_map(|(key, _)| document_of(&key).map(|id| (key, id)))
        .collect();
    let ids: Vec<Uuid> = blobs.iter().map(|(_, id)| *id).collect();
    let existing: HashSet<Uuid> = store::existing_documents(&backends.db, &ids).await?;
    let mut removed = 0;
    for (key, id) in blobs {
        if !existing.contains(&id) {
            backends.objects.delete(&key).await?;
            removed += 1;
        }
    }
    Ok(Swept { vector_documents: orphans.len(), blobs: removed })
}

/// The document a blob key belongs to: `org/<org>/documents/<document>`.
fn document_of(key: &str) -> Option<Uuid> {
    match key.split('/').collect::<Vec<_>>().as_slice() {
        ["org", org, "documents", doc] if Uuid::parse_str(org).is_ok() => Uuid::parse_str(doc).ok(),
        _ => None,
    }
}

/// Queues a sweep for the end of every period, for as long as the process runs. Every replica does this, and the
/// dedupe key (the period's number) makes it one job per period.
pub fn schedule(backends: &Backends) {
    let every = backends.config.ingest.orphan_sweep_secs;
    if every > 0 {
        jobs::every(backends.jobs.clone(), backends.db.clone(), KIND, Duration::from_secs(every));
    }
}

pub fn handler(backends: &Backends) -> Arc<SweepJob> {
    Arc::new(SweepJob { backends: backends.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_document_blobs_are_candidates() {
        let (org, doc) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(document_of(&format!("org/{org}/documents/{doc}")), Some(doc));
        assert_eq!(document_of(&format!("org/{org}/avatars/{doc}")), None);
        assert_eq!(document_of(&format!("org/{org}/documents/{doc}/extra")), None);
        assert_eq!(document_of("org/not-a-uuid/documents/x"), None);
    }
}
