//! The avatar domain's API: upload (validated before it is stored), list, get with a fresh signed link, the
//! cue → clip mapping, delete; the sample avatar offered to each organisation; and the seam chat reads the
//! mapping through ([`AvatarService::mapping`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, TransactionTrait};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::entities::avatar;
use super::error::AvatarError;
use super::inspect::{self, Inspection, Limits};
use super::mapping::{self, CueMapping};
use super::store;
use super::views::{AvatarView, MappingUpdate, ModelFormat};
use crate::auth::{Audit, AuthService, AuthUser, ClientIp};
use crate::config::secret_opt;
use crate::pagination::{Page, PageQuery};
use crate::platform::Backends;
use crate::platform::signing::{LinkError, LinkSigner, load_or_create_key};
use crate::platform::storage::ObjectInfo;

/// The project's own avatar (`scripts/make-sample-avatar.py` writes it), offered to every organisation.
const SAMPLE_GLB: &[u8] = include_bytes!("../../assets/avatars/sample.glb");
const SAMPLE_NAME: &str = "Sample tutor";
const NAME_MAX: usize = 120;

/// A domain whose records point at avatars (personas). It registers itself with [`AvatarService::linked_by`], so
/// deleting an avatar can say who uses it, or unlink it, without this domain reading their tables.
#[async_trait::async_trait]
pub trait AvatarLinks: Send + Sync + 'static {
    /// The names of the records of `org_id` that use `avatar_id`.
    async fn linked_to(&self, org_id: Uuid, avatar_id: Uuid) -> anyhow::Result<Vec<String>>;
    async fn unlink(&self, org_id: Uuid, avatar_id: Uuid) -> anyhow::Result<()>;
}

/// Whose a new avatar is: an org's, uploaded by someone, or the sample the project offers.
struct Owner {
    org_id: Uuid,
    created_by: Option<Uuid>,
    sample: bool,
}

/// An upload as the route received it.
pub struct NewAvatar {
    pub bytes: Bytes,
    pub file_name: String,
    pub name: Option<String>,
}

#[derive(Clone)]
pub struct AvatarService {
    backends: Backends,
    auth: AuthService,
    signer: LinkSigner,
    links: Arc<RwLock<Vec<Arc<dyn AvatarLinks>>>>,
}

impl AvatarService {
    /// Loads (or, on a first start, creates) the link signing key.
    pub fn new(backends: &Backends, auth: AuthService) -> anyhow::Result<Self> {
        let settings = &backends.config;
        let secret = match secret_opt(&settings.assets.signing_secret) {
            Some(secret) => secret.as_bytes().to_vec(),
            None => load_or_create_key(&settings.server.data_dir.join("secrets").join("assets.key"))?,
        };
        let signer = LinkSigner::new(secret).context("assets.signing_secret")?;
        Ok(Self { backends: backends.clone(), auth, signer, links: Arc::default() })
    }

    /// Registers a domain whose records use avatars.
    pub fn linked_by(&self, owner: Arc<dyn AvatarLinks>) {
        if let Ok(mut owners) = self.links.write() {
            owners.push(owner);
        }
    }

    fn owners(&self) -> Vec<Arc<dyn AvatarLinks>> {
        self.links.read().map(|o| o.clone()).unwrap_or_default()
    }

    fn limits(&self) -> Limits {
        let a = &self.backends.config.avatars;
        Limits {
            max_vertices: a.max_vertices,
            max_textures: a.max_textures,
            max_texture_px: a.max_texture_px,
            max_animations: a.max_animations,
            max_nodes: a.max_nodes,
        }
    }

    /// Links point at a CDN (`assets.base_url`), which may keep the files.
    pub fn behind_cdn(&self) -> bool {
        !self.backends.config.assets.base_url.is_empty()
    }

    pub fn max_upload_bytes(&self) -> u64 {
        self.backends.config.avatars.max_upload_bytes
    }

    /// The cue mapping of `avatar_id` (an avatar of `org_id`); empty without one (or once it is deleted).
    pub async fn mapping(&self, org_id: Uuid, avatar_id: Option<Uuid>) -> anyhow::Result<CueMapping> {
        let Some(id) = avatar_id else { return Ok(CueMapping::default()) };
        let Some(row) = store::avatar_in_org(&self.backends.db, org_id, id).await? else {
            return Ok(CueMapping::default());
        };
        let clips: HashMap<String, String> = serde_json::from_value(row.mapping).unwrap_or_default();
        Ok(CueMapping::new(clips))
    }

    /// Whether `id` is an avatar of `org_id` (a persona may link only those).
    pub async fn exists(&self, org_id: Uuid, id: Uuid) -> anyhow::Result<bool> {
        Ok(store::avatar_in_org(&self.backends.db, org_id, id).await?.is_some())
    }

    /// Validates the model, stores the file, and records what it holds with a guessed mapping.
    pub async fn upload(&self, caller: &AuthUser, upload: NewAvatar) -> Result<AvatarView, AvatarError> {
        let stem = match upload.file_name.rsplit_once('.') {
            Some((stem, ext)) if ["glb", "gltf"].contains(&ext.to_ascii_lowercase().as_str()) => stem.to_owned(),
            _ => return Err(AvatarError::Unsupported),
        };
        if upload.bytes.is_empty() {
            return Err(AvatarError::Empty);
        }
        let name = upload.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map_or(stem, str::to_owned);
        if name.chars().count() > NAME_MAX {
            return Err(AvatarError::NameTooLong(NAME_MAX));
        }
        let inspection = self.inspect(upload.bytes.clone(), self.limits()).await?;
        let owner = Owner { org_id: caller.org_id, created_by: Some(caller.user_id), sample: false };
        let row = self.store_new(&self.backends.db, owner, name, upload, inspection).await?;
        self.view(row).await
    }

    /// Parsing a large model is CPU work: off the async threads.
    async fn inspect(&self, bytes: Bytes, limits: Limits) -> Result<Inspection, AvatarError> {
        let inspected = tokio::task::spawn_blocking(move || inspect::inspect(&bytes, &limits))
            .await
            .context("the model inspection stopped")?;
        Ok(inspected?)
    }

    /// Puts the file in the object store, then its row; a failed insert takes the file back out.
    async fn store_new(
        &self,
        db: &impl ConnectionTrait,
        owner: Owner,
        name: String,
        upload: NewAvatar,
        inspection: Inspection,
    ) -> Result<avatar::Model, AvatarError> {
        let Owner { org_id, created_by, sample } = owner;
        let NewAvatar { bytes, file_name, .. } = upload;
        let id = Uuid::now_v7();
        let key = format!("org/{org_id}/avatars/{id}.{}", inspection.format.as_str());
        let now = Utc::now();
        let row = avatar::Model {
            id,
            org_id,
            name,
            file_name,
            format: inspection.format.as_str().to_owned(),
            size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            sha256: hex::encode(Sha256::digest(&bytes)),
            storage_key: key.clone(),
            sample,
            mapping: serde_json::to_value(mapping::guess(&inspection.animations)).context("mapping as JSON")?,
            animations: serde_json::to_value(&inspection.animations).context("clips as JSON")?,
            morph_targets: serde_json::to_value(&inspection.morph_targets).context("morph targets as JSON")?,
            stats: serde_json::to_value(&inspection.stats).context("stats as JSON")?,
            created_by,
            created_at: now,
            updated_at: now,
        };
        self.backends.objects.put(&key, bytes).await?;
        if let Err(err) = store::insert_avatar(db, row.clone()).await {
            if let Err(cleanup) = self.backends.objects.delete(&key).await {
                tracing::warn!(error = ?cleanup, key, "could not remove the file of an avatar that was not recorded");
            }
            return Err(err.into());
        }
        Ok(row)
    }

    /// Puts the sample avatar in an organisation the first time its avatars are listed. Recorded once per org, so
    /// a school that deletes the sample does not get it back.
    async fn offer_sample(&self, org_id: Uuid) -> Result<(), AvatarError> {
        let db = &self.backends.db;
        if store::sample_offered(db, org_id).await? {
            return Ok(());
        }
        // The project's own model: offered whatever limits a school sets for its uploads.
        let inspection = self.inspect(Bytes::from_static(SAMPLE_GLB), Limits::none()).await?;
        let txn = db.begin().await?;
        if !store::claim_sample_offer(&txn, org_id).await? {
            return Ok(()); // a concurrent request is offering it
        }
        let bytes = Bytes::from_static(SAMPLE_GLB);
        let owner = Owner { org_id, created_by: None, sample: true };
        let upload = NewAvatar { bytes, file_name: "sample.glb".into(), name: None };
        let row = self.store_new(&txn, owner, SAMPLE_NAME.to_owned(), upload, inspection).await?;
        if let Err(err) = txn.commit().await {
            let _ = store::delete_avatar(db, org_id, row.id).await;
            let _ = self.backends.objects.delete(&row.storage_key).await;
            return Err(err.into());
        }
        Ok(())
    }

    pub async fn list(&self, caller: &AuthUser, page: &PageQuery) -> Result<Page<AvatarView>, AvatarError> {
        self.offer_sample(caller.org_id).await?;
        let rows = store::avatars_page(&self.backends.db, caller.org_id, page).await?;
        let mut items = Vec::with_capacity(rows.items.len());
        for row in rows.items {
            items.push(self.view(row).await?);
        }
        Ok(Page::of(items, page, rows.total))
    }

    async fn find(&self, org_id: Uuid, id: Uuid) -> Result<avatar::Model, AvatarError> {
        store::avatar_in_org(&self.backends.db, org_id, id).await?.ok_or(AvatarError::NotFound)
    }

    pub async fn get(&self, caller: &AuthUser, id: Uuid) -> Result<AvatarView, AvatarError> {
        self.view(self.find(caller.org_id, id).await?).await
    }

    pub async fn set_mapping(
        &self,
        caller: &AuthUser,
        id: Uuid,
        body: MappingUpdate,
    ) -> Result<AvatarView, AvatarError> {
        let row = self.find(caller.org_id, id).await?;
        let clips: Vec<super::views::Clip> = serde_json::from_value(row.animations.clone()).unwrap_or_default();
        mapping::check(&body.mapping, &clips)?;
        let value = serde_json::to_value(&body.mapping).context("mapping as JSON")?;
        store::set_mapping(&self.backends.db, row.id, value).await?;
        self.get(caller, id).await
    }

    /// Refused while a tutor uses the avatar, unless `force`, which unlinks it from them first.
    pub async fn delete(&self, caller: &AuthUser, ip: &ClientIp, id: Uuid, force: bool) -> Result<(), AvatarError> {
        let row = self.find(caller.org_id, id).await?;
        let mut users = Vec::new();
        for owner in self.owners() {
            users.extend(owner.linked_to(caller.org_id, id).await?);
        }
        if !users.is_empty() && !force {
            users.sort();
            return Err(AvatarError::InUse(users));
        }
        for owner in self.owners() {
            owner.unlink(caller.org_id, id).await?;
        }
        store::delete_avatar(&self.backends.db, caller.org_id, id).await?;
        if let Err(err) = self.backends.objects.delete(&row.storage_key).await {
            tracing::warn!(error = ?err, key = row.storage_key, "could not remove a deleted avatar's file");
        }
        let details = serde_json::json!({ "name": row.name, "unlinked": users });
        self.auth.audit(Audit::by(caller, ip, "avatar.deleted").target("avatar", id).details(details)).await;
        Ok(())
    }

    /// A link to `key` that works until about `assets.url_ttl_secs` from now: the store's own presigned URL where
    /// it has one (S3), else one this server checks ([`Self::open_asset`]).
    pub async fn link(&self, key: &str) -> anyhow::Result<(String, DateTime<Utc>)> {
        let settings = &self.backends.config.assets;
        let ttl = settings.url_ttl_secs.max(1);
        if let Some(url) = self.backends.objects.presigned_get(key, Duration::from_secs(ttl)).await? {
            return Ok((url.to_string(), Utc::now() + Duration::from_secs(ttl)));
        }
        // Rounded up to the minute: views of an avatar within a minute share one URL, so the browser's cache
        // serves the model again instead of fetching it anew.
        let expires = (Utc::now().timestamp() + i64::try_from(ttl).unwrap_or(i64::MAX / 2) + 59) / 60 * 60;
        let sig = self.signer.sign(key, expires);
        let base = settings.base_url.trim_end_matches('/');
        let expires_at = DateTime::from_timestamp(expires, 0).context("link expiry out of range")?;
        Ok((format!("{base}/api/v1/assets/{key}?expires={expires}&sig={sig}"), expires_at))
    }

    /// The stored object a signed link names, once the link checks out.
    pub async fn open_asset(&self, key: &str, expires: i64, sig: &str) -> Result<ObjectInfo, AvatarError> {
        self.signer.verify(key, expires, sig, Utc::now().timestamp()).map_err(|e| match e {
            LinkError::Invalid => AvatarError::BadSignature,
            LinkError::Expired => AvatarError::Expired,
        })?;
        self.backends.objects.head(key).await?.ok_or(AvatarError::NotFound)
    }

    /// Bytes `range` of a stored asset (after [`Self::open_asset`]).
    pub async fn read_asset(&self, key: &str, range: std::ops::Range<u64>) -> Result<Bytes, AvatarError> {
        Ok(self.backends.objects.get_range(key, range).await?)
    }

    async fn view(&self, row: avatar::Model) -> Result<AvatarView, AvatarError> {
        let (url, url_expires_at) = self.link(&row.storage_key).await?;
        let format = ModelFormat::parse(&row.format)
            .with_context(|| format!("avatar {} has an unknown format {:?}", row.id, row.format))?;
        let stats = serde_json::from_value(row.stats).with_context(|| format!("avatar {} stats", row.id))?;
        let mapping: BTreeMap<String, String> = serde_json::from_value(row.mapping).unwrap_or_default();
        Ok(AvatarView {
            id: row.id,
            name: row.name,
            file_name: row.file_name,
            format,
            size_bytes: u64::try_from(row.size_bytes).unwrap_or(0),
            sample: row.sample,
            animations: serde_json::from_value(row.animations).unwrap_or_default(),
            morph_targets: serde_json::from_value(row.morph_targets).unwrap_or_default(),
            stats,
            mapping,
            url,
            url_expires_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
