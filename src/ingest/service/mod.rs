//! The knowledge domain's API: what other domains may ask (collections that exist, search, document progress) and
//! what this domain's routes do (collections and documents, in the files beside this one).

mod collections;
mod content;
mod documents;

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use uuid::Uuid;

use super::entities::{collection, document};
use super::error::IngestError;
use super::views::{DocumentProgress, QUERY_MAX, SEARCH_COLLECTIONS_MAX, SearchResponse, TOP_K_MAX};
use super::{retrieval, store};
use crate::billing::BillingService;
use crate::platform::{Backends, events};

pub use documents::{TempFile, Upload};

#[derive(Clone)]
pub struct IngestService {
    backends: Backends,
    /// Stored bytes are a plan's limit: an upload reserves them, a deletion gives them back.
    billing: BillingService,
}

impl IngestService {
    pub fn new(backends: &Backends, billing: BillingService) -> Self {
        Self { backends: backends.clone(), billing }
    }

    /// A collection of `org_id`. Another org's id is simply not found.
    async fn collection(&self, org_id: Uuid, id: Uuid) -> Result<collection::Model, IngestError> {
        store::collection_in_org(&self.backends.db, org_id, id).await?.ok_or(IngestError::NotFound("collection"))
    }

    async fn document(&self, org_id: Uuid, id: Uuid) -> Result<document::Model, IngestError> {
        store::document_in_org(&self.backends.db, org_id, id).await?.ok_or(IngestError::NotFound("document"))
    }

    /// Which of `ids` are not collections of `org_id` (another org's id is as missing as a made-up one), in the
    /// order given. One query, for callers that reference collections, such as personas.
    pub async fn missing_collections(&self, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Uuid>, IngestError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let found = store::owned_collections(&self.backends.db, org_id, ids).await?;
        Ok(ids.iter().filter(|id| !found.contains(id)).copied().collect())
    }

    /// The names of the org's documents among `ids` (a deleted one is absent), for lists that show them.
    pub async fn document_names(&self, org_id: Uuid, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, IngestError> {
        let ids: HashSet<Uuid> = ids.iter().copied().collect();
        Ok(store::document_names(&self.backends.db, org_id, &ids).await?)
    }

    /// The best `top_k` passages for `query` among `collection_ids` of `org_id` (every collection of the org when
    /// empty). A collection that is not the org's answers `NotFound`.
    pub async fn search(
        &self,
        org_id: Uuid,
        collection_ids: &[Uuid],
        query: &str,
        top_k: usize,
    ) -> Result<SearchResponse, IngestError> {
        if query.trim().is_empty() || query.chars().count() > QUERY_MAX {
            return Err(IngestError::Invalid(format!("query must be 1 to {QUERY_MAX} characters")));
        }
        if collection_ids.len() > SEARCH_COLLECTIONS_MAX {
            return Err(IngestError::Invalid(format!("at most {SEARCH_COLLECTIONS_MAX} collection_ids")));
        }
        if !(1..=TOP_K_MAX).contains(&top_k) {
            return Err(IngestError::Invalid(format!("top_k must be 1 to {TOP_K_MAX}")));
        }
        if !self.missing_collections(org_id, collection_ids).await?.is_empty() {
            return Err(IngestError::NotFound("collection"));
        }
        retrieval::search(&self.backends, org_id, collection_ids, query.trim(), top_k).await
    }

    /// Removes vectors and files whose document is gone now (the job does it every `ingest.orphan_sweep_secs`).
    pub async fn sweep_orphans(&self) -> anyhow::Result<(usize, usize)> {
        let swept = super::sweep::sweep(&self.backends).await?;
        Ok((swept.vector_documents, swept.blobs))
    }

    /// Every document's progress events from now on, each with its uploader (on every replica's bus): the chat
    /// WebSocket forwards them to the uploader's connections.
    pub async fn document_events(&self) -> anyhow::Result<BoxStream<'static, DocumentProgress>> {
        Ok(events::subscribe::<DocumentProgress>(self.backends.pubsub.as_ref()).await?.boxed())
    }
}
