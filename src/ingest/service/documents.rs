//! Documents: upload (the route has streamed the file to disk), status, list, delete, reprocess, live progress.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use uuid::Uuid;

use super::IngestService;
use crate::auth::AuthUser;
use crate::ingest::entities::document;
use crate::ingest::error::IngestError;
use crate::ingest::pipeline::{self, extract};
use crate::ingest::progress;
use crate::ingest::store::{self, NewDocument};
use crate::ingest::views::{DocumentEvent, DocumentView};
use crate::pagination::{Page, PageQuery};
use crate::platform::jobs::NewJob;
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
    /// Checks the collection, has `receive` stream the file to disk (given the folder and the size limit),
    /// stores it and queues it for the pipeline. The answer comes at once; processing continues in the background.
    pub async fn upload<F, Fut>(
        &self,
        caller: &AuthUser,
        collection_id: Uuid,
        receive: F,
    ) -> Result<DocumentView, IngestError>
    where
        F: FnOnce(PathBuf, u64) -> Fut,
        Fut: Future<Output = Result<Upload, IngestError>>,
    {
        let collection = self.collection(caller.org_id, collection_id).await?;
        let b = &self.backends;
        let file = receive(b.config.server.data_dir.join("tmp"), b.config.ingest.max_upload_bytes).await?;
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
            blob_key,
            uploaded_by: caller.user_id,
        };
        let row = store::insert_document(&b.db, new).await?;
        self.enqueue(&row).await?;
        Ok(DocumentView::from(row))
    }

    async fn enqueue(&self, doc: &document::Model) -> Result<(), IngestError> {
        let payload = serde_json::to_value(pipeline::Payload { document_id: doc.id, org_id: doc.org_id })
            .map_err(anyhow::Error::from)?;
        let job = NewJob {
            kind: pipeline::KIND.into(),
            payload,
            org_id: Some(doc.org_id),
            dedupe_key: Some(format!("ingest:{}", doc.id)),
        };
        self.backends.jobs.enqueue(job).await?;
        progress::publish_state(self.backends.pubsub.as_ref(), doc).await;
        Ok(())
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

    /// Vectors first, then the file, then the row (its chunks cascade): if a step fails the row is still there,
    /// and deleting again finishes the job instead of leaving unreachable vectors behind.
    pub async fn delete_document(&self, caller: &AuthUser, id: Uuid) -> Result<(), IngestError> {
        let doc = self.document(caller.org_id, id).await?;
        let b = &self.backends;
        let filter = VectorFilter::org(doc.org_id).with_documents([doc.id]);
        b.vectors.delete(&filter).await.map_err(|e| anyhow::Error::new(e).context("deleting document vectors"))?;
        b.objects.delete(&doc.blob_key).await?;
        store::delete_document(&b.db, doc).await?;
        Ok(())
    }

    /// Runs the pipeline again (after a failure, or once a transcription provider is configured).
    pub async fn reprocess(&self, caller: &AuthUser, id: Uuid) -> Result<DocumentView, IngestError> {
        let doc = self.document(caller.org_id, id).await?;
        if matches!(doc.status.as_str(), "queued" | "processing") {
            return Err(IngestError::Conflict("the document is already being processed".into()));
        }
        let row = store::requeue_document(&self.backends.db, doc).await?;
        self.enqueue(&row).await?;
        Ok(DocumentView::from(row))
    }

    /// The document's state now, then every change.
    pub async fn document_updates(
        &self,
        caller: &AuthUser,
        id: Uuid,
    ) -> Result<BoxStream<'static, DocumentEvent>, IngestError> {
        // Subscribe before reading the row, so no change falls between the two.
        let updates = progress::subscribe(self.backends.pubsub.as_ref(), id).await?;
        let current = DocumentEvent::from(&self.document(caller.org_id, id).await?);
        Ok(futures_util::stream::iter([current]).chain(updates).boxed())
    }
}

/// Refuses only what is certainly not a supported kind; anything that might be (an empty file, text that may be
/// junk) is accepted, and the ingest job fails it with a precise code.
async fn refuse_unsupported(path: &Path, name: &str) -> Result<(), IngestError> {
    let path = path.to_path_buf();
    let name = name.to_owned();
    let verdict = tokio::task::spawn_blocking(move || -> std::io::Result<Result<(), String>> {
        use std::io::Read;
        // The head is enough to refuse an image or an executable; telling DOCX from PPTX (or from any other zip)
        // needs the whole file, which is the job's to read.
        let mut head = Vec::with_capacity(64 * 1024);
        std::fs::File::open(&path)?.take(64 * 1024).read_to_end(&mut head)?;
        if head.starts_with(b"PK\x03\x04") {
            return Ok(Ok(()));
        }
        Ok(match extract::sniff(&head, Some(&name)) {
            Err(err) if err.code() == "unsupported_type" => Err(err.message()),
            _ => Ok(()),
        })
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(anyhow::Error::from)?;
    verdict.map_err(IngestError::Unsupported)
}
