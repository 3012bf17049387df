//! Documents: upload (the route has streamed the file to disk), status, list, delete, reprocess, live progress.

use std::path::{Path, PathBuf};

use futures_util::stream::BoxStream;
use sea_orm::{ConnectionTrait, TransactionTrait};
use uuid::Uuid;

use super::IngestService;
use crate::auth::AuthUser;
use crate::billing::Quota;
use crate::ingest::entities::{collection, document};
use crate::ingest::error::IngestError;
use crate::ingest::pipeline::{self, extract};
use crate::ingest::progress;
use crate::ingest::store::{self, NewDocument};
use crate::ingest::views::{DELETING, DocumentEvent, DocumentView};
use crate::pagination::{Page, PageQuery};
use crate::platform::jobs::{NewJob, now_ms};
use crate::platform::vectors::VectorFilter;

/// A file received whole on local disk, with what the client said about it.
#[derive(Debug)]
pub struct Upload {
    pub file: TempFile,
    /// The client's file name, cleaned: a label, never a path.
    pub name: String,
    pub content_type: Option<String>,
    pub size: u64,
    pub sha256: String,
}

/// A temp file deleted however the upload ends.
#[derive(Debug)]
pub struct TempFile(pub PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl IngestService {
    /// Checks the collection, reserves the upload's bytes against the plan's storage (before a byte is read: the
    /// request's declared length, at most the upload limit), has `receive` stream the file to disk (given the folder
    /// and the size limit), stores it and queues it for the pipeline, then gives back what the file did not use.
    /// The answer comes at once; processing continues in the background.
    pub async fn upload<F, Fut>(
        &self,
        caller: &AuthUser,
        collection_id: Uuid,
        declared: Option<u64>,
        receive: F,
    ) -> Result<DocumentView, IngestError>
    where
        F: FnOnce(PathBuf, u64) -> Fut,
        Fut: Future<Output = Result<Upload, IngestError>>,
    {
        let collection = self.collection(caller.org_id, collection_id).await?;
        let max = self.backends.config.ingest.max_upload_bytes;
        let reserved = match declared {
            Some(bytes) => {
                let reserved = bytes.min(max);
                self.billing.reserve(caller.org_id, Some(caller.user_id), Quota::StorageBytes(reserved)).await?;
                reserved
            }
            // A body of unknown length (chunked) may use what the plan has left.
            None => self.billing.reserve_storage_up_to(caller.org_id, Some(caller.user_id), max).await?,
        };
        let stored = self.store_upload(caller, &collection, reserved, receive).await;
        let unused = match &stored {
            Ok(doc) => reserved.saturating_sub(u64::try_from(doc.size_bytes).unwrap_or(0)),
            Err(_) => reserved,
        };
        if unused > 0 {
            self.billing.release(caller.org_id, Quota::StorageBytes(unused)).await?;
        }
        let row = stored?;
        self.queued(&row).await;
        Ok(DocumentView::from(row))
    }

    async fn store_upload<F, Fut>(
        &self,
        caller: &AuthUser,
        collection: &collection::Model,
        limit: u64,
        receive: F,
    ) -> Result<document::Model, IngestError>
    where
        F: FnOnce(PathBuf, u64) -> Fut,
        Fut: Future<Output = Result<Upload, IngestError>>,
    {
        let b = &self.backends;
        let file = receive(b.config.server.data_dir.join("tmp"), limit).await?;
        refuse_unsupported(&file.file.0, &file.name).await?;
        let doc_id = Uuid::now_v7();
        let blob_key = format!("org/{}/documents/{doc_id}", caller.org_id);
        b.objects.put_file(&blob_key, &file.file.0).await?;
        let new = NewDocument {
            id: doc_id,
            org_id: caller.org_id,
            collection_id: collection.id,
            name: file.name.clone(),
            client_content_type: file.content_type.clone(),
            size_bytes: i64::try_from(file.size).unwrap_or(i64::MAX),
            sha256: file.sha256.clone(),
            blob_key: blob_key.clone(),
            uploaded_by: caller.user_id,
        };
        // The row and its job commit together: a document is never left `queued` with no job to run it. The blob
        // is written first (an object store takes no part in the transaction) and removed if the commit fails; a
        // crash in between leaves only a blob with no row, which the orphan sweep removes.
        let stored = async {
            let txn = b.db.begin().await?;
            let row = store::insert_document(&txn, new).await?;
            self.enqueue_in(&txn, &row).await?;
            txn.commit().await?;
            Ok::<_, IngestError>(row)
        }
        .await;
        if stored.is_err()
            && let Err(cleanup) = b.objects.delete(&blob_key).await
        {
            tracing::warn!(error = ?cleanup, "could not remove the blob of a failed upload");
        }
        stored
    }

    /// Queues the pipeline for `doc` on `conn` (the transaction that wrote the row).
    async fn enqueue_in(&self, conn: &impl ConnectionTrait, doc: &document::Model) -> Result<(), IngestError> {
        let payload = serde_json::to_value(pipeline::Payload { document_id: doc.id, org_id: doc.org_id })
            .map_err(anyhow::Error::from)?;
        let job = NewJob {
            kind: pipeline::KIND.into(),
            payload,
            org_id: Some(doc.org_id),
            dedupe_key: Some(format!("ingest:{}", doc.id)),
        };
        self.backends.jobs.enqueue_in(conn, job, now_ms()).await?;
        Ok(())
    }

    /// After the commit: a worker is woken and the uploader told.
    async fn queued(&self, doc: &document::Model) {
        self.backends.jobs.wake();
        progress::publish_state(self.backends.pubsub.as_ref(), doc).await;
    }

    pub async fn list_documents(
        &self,
        caller: &AuthUser,
        collection_id: Uuid,
        page: &PageQuery,
    ) -> Result<Page<DocumentView>, IngestError> {
        let collection = self.collection(caller.org_id, collection_id).await?;
        Ok(store::documents_page(&self.backends.db, caller.org_id, collection.id, page).await?)
    }

    pub async fn get_document(&self, caller: &AuthUser, id: Uuid) -> Result<DocumentView, IngestError> {
        Ok(DocumentView::from(self.document(caller.org_id, id).await?))
    }

    /// Marked `deleting` first, so a job still working on it stops and writes nothing more (it checks after every
    /// write, and removes what it wrote last if the deletion began meanwhile); then its vectors, its file, and the
    /// row (its chunks cascade). A step that fails leaves the row, so deleting again finishes the job; the orphan
    /// sweep removes whatever a crash leaves behind.
    pub async fn delete_document(&self, caller: &AuthUser, id: Uuid) -> Result<(), IngestError> {
        let doc = self.document(caller.org_id, id).await?;
        let b = &self.backends;
        store::mark_deleting(&b.db, doc.id).await?;
        let filter = VectorFilter::org(doc.org_id).with_documents([doc.id]);
        b.vectors.delete(&filter).await.map_err(|e| anyhow::Error::new(e).context("deleting document vectors"))?;
        b.objects.delete(&doc.blob_key).await?;
        let (org_id, bytes) = (doc.org_id, u64::try_from(doc.size_bytes).unwrap_or(0));
        store::delete_document(&b.db, doc).await?;
        self.billing.release(org_id, Quota::StorageBytes(bytes)).await?;
        Ok(())
    }

    /// Runs the pipeline again (after a failure, or once a transcription provider is configured).
    pub async fn reprocess(&self, caller: &AuthUser, id: Uuid) -> Result<DocumentView, IngestError> {
        let doc = self.document(caller.org_id, id).await?;
        let txn = self.backends.db.begin().await?;
        // The status change is the claim: of two concurrent reprocesses, one queues the job.
        let Some(row) = store::claim_for_reprocess(&txn, &doc).await? else {
            let why = match doc.status.as_str() {
                DELETING => "the document is being deleted",
                _ => "the document is already being processed",
            };
            return Err(IngestError::Conflict(why.into()));
        };
        self.enqueue_in(&txn, &row).await?;
        txn.commit().await?;
        self.queued(&row).await;
        Ok(DocumentView::from(row))
    }

    /// The document's state now, then every change.
    pub async fn document_updates(
        &self,
        caller: &AuthUser,
        id: Uuid,
    ) -> Result<BoxStream<'static, DocumentEvent>, IngestError> {
        // Access first: an id the caller may not see must not even open a subscription (a topic per random id).
        self.document(caller.org_id, id).await?;
        // Then subscribe before reading the state it starts from, so no change falls between the two.
        let updates = progress::subscribe(self.backends.pubsub.as_ref(), id).await?;
        let current = DocumentEvent::from(&self.document(caller.org_id, id).await?);
        Ok(progress::from_state(current, updates))
    }
}

/// Refuses at once what is certainly not a supported kind (an image, an executable, binary data named as text)
/// and an empty file; anything that might be readable is accepted, and the job fails it with a precise code.
async fn refuse_unsupported(path: &Path, name: &str) -> Result<(), IngestError> {
    let path = path.to_path_buf();
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || -> Result<(), IngestError> {
        use std::io::Read;
        // The head is enough to refuse an image or an executable; telling DOCX from PPTX (or from any other zip)
        // needs the whole file, which is the job's to read. One byte past the text sample tells the sniffer the
        // sample was cut, so a character split at its end is not taken for binary.
        let mut head = Vec::with_capacity(extract::TEXT_SAMPLE + 1);
        let read =
            std::fs::File::open(&path).and_then(|f| f.take(extract::TEXT_SAMPLE as u64 + 1).read_to_end(&mut head));
        read.map_err(anyhow::Error::from)?;
        if head.is_empty() {
            return Err(IngestError::Empty);
        }
        if head.starts_with(b"PK\x03\x04") {
            return Ok(());
        }
        match extract::sniff(&head, Some(&name)) {
            Err(err) if matches!(err.code(), "unsupported_type" | "not_text") => {
                Err(IngestError::Unsupported(err.message()))
            }
            _ => Ok(()),
        }
    })
    .await
    .map_err(anyhow::Error::from)?
}
