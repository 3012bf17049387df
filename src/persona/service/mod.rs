//! The persona domain's API: personas read and written with their collection lists, always scoped by org. The chat
//! domain reads them through [`PersonaService::find`].

mod fields;

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;
use uuid::Uuid;

pub use fields::Fields;

use super::entities::persona;
use super::error::PersonaError;
use super::store;
use super::views::{CreatePersona, PersonaView, TeachingMode, UpdatePersona};
use crate::auth::{Audit, AuthService, AuthUser, ClientIp, Role};
use crate::avatar::{AvatarLinks, AvatarService};
use crate::billing::{BillingService, Quota};
use crate::ingest::IngestService;
use crate::pagination::{Page, PageQuery};
use crate::platform::Backends;

/// A persona as the rest of the app sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Persona {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub description: String,
    pub tone: String,
    pub instructions: String,
    pub teaching_mode: TeachingMode,
    pub greeting: String,
    /// In the teacher's order. A deleted collection drops out of every list by itself (a cascading key).
    pub collection_ids: Vec<Uuid>,
    /// One of the org's avatars (checked on every write; deleting it unlinks it, see [`AvatarLinks`]).
    pub avatar_id: Option<Uuid>,
    /// `None`: the configured default model.
    pub model: Option<String>,
    pub temperature: f64,
    pub max_tokens: u32,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn assemble(row: persona::Model, collection_ids: Vec<Uuid>) -> Result<Persona, PersonaError> {
    let teaching_mode = TeachingMode::parse(&row.teaching_mode)
        .with_context(|| format!("persona {} has an unknown teaching mode {:?}", row.id, row.teaching_mode))?;
    Ok(Persona {
        id: row.id,
        org_id: row.org_id,
        name: row.name,
        description: row.description,
        tone: row.tone,
        instructions: row.instructions,
        teaching_mode,
        greeting: row.greeting,
        collection_ids,
        avatar_id: row.avatar_id,
        model: row.model,
        temperature: row.temperature,
        max_tokens: u32::try_from(row.max_tokens).unwrap_or(1),
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Instructions may hold answers a student should work out: staff only.
fn view(persona: Persona, caller: &AuthUser) -> PersonaView {
    PersonaView::new(persona, caller.role.at_least(Role::Teacher))
}

#[derive(Clone)]
pub struct PersonaService {
    backends: Backends,
    ingest: IngestService,
    auth: AuthService,
    billing: BillingService,
    avatars: AvatarService,
}

impl PersonaService {
    pub fn new(
        backends: &Backends,
        ingest: IngestService,
        auth: AuthService,
        billing: BillingService,
        avatars: AvatarService,
    ) -> Self {
        Self { backends: backends.clone(), ingest, auth, billing, avatars }
    }

    /// A persona of `org_id`. Another org's id is simply not found.
    pub async fn find(&self, org_id: Uuid, id: Uuid) -> Result<Persona, PersonaError> {
        let db = &self.backends.db;
        let row = store::persona_in_org(db, org_id, id).await?.ok_or(PersonaError::NotFound)?;
        let mut links = store::collection_ids(db, &[row.id]).await?;
        assemble(row, links.remove(&id).unwrap_or_default())
    }

    /// The names of the org's personas among `ids` (a deleted one is absent), for lists that show them.
    pub async fn names(&self, org_id: Uuid, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, PersonaError> {
        Ok(store::names(&self.backends.db, org_id, ids).await?)
    }

    pub async fn get(&self, caller: &AuthUser, id: Uuid) -> Result<PersonaView, PersonaError> {
        Ok(view(self.find(caller.org_id, id).await?, caller))
    }

    /// One page of the org's personas, by name.
    pub async fn list(&self, caller: &AuthUser, page: &PageQuery) -> Result<Page<PersonaView>, PersonaError> {
        let db = &self.backends.db;
        let rows = store::personas_page(db, caller.org_id, page).await?;
        let ids: Vec<Uuid> = rows.items.iter().map(|r| r.id).collect();
        let mut links = store::collection_ids(db, &ids).await?;
        let items = rows
            .items
            .into_iter()
            .map(|row| {
                let collections = links.remove(&row.id).unwrap_or_default();
                assemble(row, collections).map(|p| view(p, caller))
            })
            .collect::<Result<_, _>>()?;
        Ok(Page::of(items, page, rows.total))
    }

    /// Collections must be the caller's org's: asked of the knowledge domain, never read from its tables.
    async fn check_collections(&self, org_id: Uuid, ids: &[Uuid]) -> Result<(), PersonaError> {
        let missing = self.ingest.missing_collections(org_id, ids).await?;
        if missing.is_empty() { Ok(()) } else { Err(PersonaError::UnknownCollections(missing)) }
    }

    /// An avatar must be the caller's org's: asked of the avatar domain.
    async fn check_avatar(&self, org_id: Uuid, avatar_id: Option<Uuid>) -> Result<(), PersonaError> {
        match avatar_id {
            Some(id) if !self.avatars.exists(org_id, id).await? => Err(PersonaError::UnknownAvatar(id)),
            _ => Ok(()),
        }
    }

    pub async fn create(&self, caller: &AuthUser, body: CreatePersona) -> Result<PersonaView, PersonaError> {
        let fields = Fields::from_create(body)?;
        self.check_collections(caller.org_id, &fields.collection_ids).await?;
        self.check_avatar(caller.org_id, fields.avatar_id).await?;
        self.billing.reserve(caller.org_id, Some(caller.user_id), Quota::Personas).await?;
        let id = Uuid::now_v7();
        let stored = async {
            let txn = self.backends.db.begin().await?;
            store::insert_persona(&txn, id, caller.org_id, caller.user_id, &fields).await?;
            txn.commit().await
        }
        .await;
        if let Err(err) = stored {
            self.billing.release(caller.org_id, Quota::Personas).await?;
            return Err(err.into());
        }
        Ok(view(self.find(caller.org_id, id).await?, caller))
    }

    /// The persona's current fields with the update's on top, checked as a whole.
    pub async fn update(&self, caller: &AuthUser, id: Uuid, body: UpdatePersona) -> Result<PersonaView, PersonaError> {
        // Found first: another org's id answers 404 whatever the body says.
        let current = self.find(caller.org_id, id).await?;
        // After a downgrade, an org with more tutors than its plan allows keeps them as they are.
        self.billing.ensure_within(caller.org_id, Some(caller.user_id), Quota::Personas).await?;
        let fields = Fields::from_update(&current, body)?;
        self.check_collections(current.org_id, &fields.collection_ids).await?;
        if fields.avatar_id != current.avatar_id {
            self.check_avatar(current.org_id, fields.avatar_id).await?;
        }
        let changed = fields.collection_ids != current.collection_ids;
        let txn = self.backends.db.begin().await?;
        store::update_persona(&txn, current.org_id, current.id, &fields, changed).await?;
        txn.commit().await?;
        Ok(view(self.find(current.org_id, current.id).await?, caller))
    }

    /// Deletes the persona and its collection links; the audit log keeps its name.
    pub async fn delete(&self, caller: &AuthUser, ip: &ClientIp, id: Uuid) -> Result<(), PersonaError> {
        let db = &self.backends.db;
        let row = store::persona_in_org(db, caller.org_id, id).await?.ok_or(PersonaError::NotFound)?;
        store::delete_persona(db, caller.org_id, row.id).await?;
        self.billing.release(caller.org_id, Quota::Personas).await?;
        let details = serde_json::json!({ "name": row.name });
        self.auth.audit(Audit::by(caller, ip, "persona.deleted").target("persona", id).details(details)).await;
        Ok(())
    }
}

/// Tutors show avatars: deleting one asks which tutors use it, and unlinks them when forced.
#[async_trait::async_trait]
impl AvatarLinks for PersonaService {
    async fn linked_to(&self, org_id: Uuid, avatar_id: Uuid) -> anyhow::Result<Vec<String>> {
        Ok(store::names_using_avatar(&self.backends.db, org_id, avatar_id).await?)
    }

    async fn unlink(&self, org_id: Uuid, avatar_id: Uuid) -> anyhow::Result<()> {
        Ok(store::unlink_avatar(&self.backends.db, org_id, avatar_id).await?)
    }
}
