//! Collections: named sets of documents a persona draws on. Teachers and admins write; everyone in the org reads.

use uuid::Uuid;

use super::IngestService;
use crate::auth::AuthUser;
use crate::billing::Quota;
use crate::ingest::entities::collection;
use crate::ingest::error::IngestError;
use crate::ingest::store;
use crate::ingest::views::{
    COLLECTION_DESCRIPTION_MAX, COLLECTION_NAME_MAX, CollectionView, CreateCollection, UpdateCollection,
};
use crate::pagination::{Page, PageQuery};
use crate::platform::vectors::VectorFilter;

/// Limits count the text as sent (as the schema's `maxLength` does); what is stored is trimmed.
fn name_of(value: &str) -> Result<String, IngestError> {
    let name = value.trim();
    if name.is_empty() || value.chars().count() > COLLECTION_NAME_MAX {
        return Err(IngestError::Invalid(format!("name must be 1 to {COLLECTION_NAME_MAX} characters")));
    }
    Ok(name.to_owned())
}

fn description_of(value: &str) -> Result<String, IngestError> {
    let description = value.trim();
    if value.chars().count() > COLLECTION_DESCRIPTION_MAX {
        return Err(IngestError::Invalid(format!(
            "description must be at most {COLLECTION_DESCRIPTION_MAX} characters"
        )));
    }
    Ok(description.to_owned())
}

impl IngestService {
    async fn view(&self, row: collection::Model) -> Result<CollectionView, IngestError> {
        let document_count = store::document_count(&self.backends.db, row.id).await?;
        Ok(CollectionView {
            id: row.id,
            name: row.name,
            description: row.description,
            document_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    pub async fn create_collection(
        &self,
        caller: &AuthUser,
        body: &CreateCollection,
    ) -> Result<CollectionView, IngestError> {
        let (name, description) = (name_of(&body.name)?, description_of(&body.description)?);
        let row = store::insert_collection(&self.backends.db, caller.org_id, caller.user_id, name, description).await?;
        self.view(row).await
    }

    pub async fn list_collections(
        &self,
        caller: &AuthUser,
        page: &PageQuery,
    ) -> Result<Page<CollectionView>, IngestError> {
        let rows = store::collections_page(&self.backends.db, caller.org_id, page).await?;
        let mut items = Vec::with_capacity(rows.items.len());
        for row in rows.items {
            items.push(self.view(row).await?);
        }
        Ok(Page::of(items, page, rows.total))
    }

    pub async fn get_collection(&self, caller: &AuthUser, id: Uuid) -> Result<CollectionView, IngestError> {
        let row = self.collection(caller.org_id, id).await?;
        self.view(row).await
    }

    pub async fn update_collection(
        &self,
        caller: &AuthUser,
        id: Uuid,
        body: &UpdateCollection,
    ) -> Result<CollectionView, IngestError> {
        let row = self.collection(caller.org_id, id).await?;
        let name = body.name.as_deref().map(name_of).transpose()?;
        let description = body.description.as_deref().map(description_of).transpose()?;
        let row = store::update_collection(&self.backends.db, row, name, description).await?;
        self.view(row).await
    }

    /// Deletes the collection with its documents: their chunks, vectors and files go too. Personas that name it
    /// lose it from their lists: their link rows cascade with the collection's row (the personas migration's
    /// foreign key), so no persona keeps an id that resolves to nothing, and this domain needs no knowledge of
    /// personas.
    pub async fn delete_collection(&self, caller: &AuthUser, id: Uuid) -> Result<(), IngestError> {
        let row = self.collection(caller.org_id, id).await?;
        let b = &self.backends;
        // Its documents' jobs stop first (see `delete_document`).
        store::mark_collection_deleting(&b.db, row.id).await?;
        let filter = VectorFilter::org(row.org_id).with_collections([row.id]);
        b.vectors.delete(&filter).await.map_err(|e| anyhow::Error::new(e).context("deleting collection vectors"))?;
        let mut bytes = 0u64;
        for doc in store::documents_of_collection(&b.db, row.id).await? {
            b.objects.delete(&doc.blob_key).await?;
            bytes = bytes.saturating_add(u64::try_from(doc.size_bytes).unwrap_or(0));
        }
        let org_id = row.org_id;
        store::delete_collection(&b.db, row).await?;
        self.billing.release(org_id, Quota::StorageBytes(bytes)).await?;
        Ok(())
    }
}
