//! Restoring an archive into a data dir and the configured backends. The server must not be running on them:
//! restore is an offline operation (the embedded engine's lock says so if it is).

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::archive::{self, Manifest};
use super::{OBJECTS_PREFIX, SECRETS_PREFIX, VECTOR_PAGE, VECTORS_ENTRY, database};
use crate::config::Settings;
use crate::platform::storage::Storage;
use crate::platform::vectors::edge::EdgeVectorStore;
use crate::platform::vectors::server::QdrantVectorStore;
use crate::platform::vectors::{PointPayload, SparseVector, VectorPoint, VectorStore};

/// A point as the archive stores it.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredPoint {
    id: Uuid,
    dense: Option<Vec<f32>>,
    sparse: Option<(Vec<u32>, Vec<f32>)>,
    payload: PointPayload,
}

impl From<&VectorPoint> for StoredPoint {
    fn from(p: &VectorPoint) -> Self {
        Self {
            id: p.id,
            dense: p.dense.clone(),
            sparse: p.sparse.as_ref().map(|s| (s.indices.clone(), s.values.clone())),
            payload: p.payload.clone(),
        }
    }
}

impl From<StoredPoint> for VectorPoint {
    fn from(p: StoredPoint) -> Self {
        let sparse = p.sparse.map(|(indices, values)| SparseVector { indices, values });
        Self { id: p.id, dense: p.dense, sparse, payload: p.payload }
    }
}

/// Restores `archive` into the backends `settings` name. Refuses a corrupt, truncated or newer archive before
/// anything is touched, and a target that already holds data unless `force`.
pub async fn restore(settings: &Settings, archive: &Path, force: bool) -> anyhow::Result<Manifest> {
    let data_dir = &settings.server.data_dir;
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let staging = tempfile::Builder::new().prefix(".restore-").tempdir_in(data_dir)?;
    let manifest = archive::unpack_verified(archive, staging.path())?;
    ensure!(
        database::known_schema(&manifest.schema),
        "the archive's database is at schema {}, which this Bwenge ({}) does not know: upgrade first",
        manifest.schema,
        env!("CARGO_PKG_VERSION")
    );

    let objects = Storage::open(&settings.storage.url, data_dir)?;
    let vectors = open_vectors(settings)?;
    vectors.ensure_collection(settings.embeddings.dimensions).await.context("preparing the vector collection")?;
    if !force {
        ensure!(
            objects.list("").await?.is_empty(),
            "the target's file storage is not empty: pass --force to add to it"
        );
        ensure!(
            vectors.document_ids(1).await?.is_empty(),
            "the target's vector store is not empty: pass --force to replace it"
        );
    }

    let entry =
        manifest.entries.iter().find(|e| e.name.starts_with("database.")).context("no database in the archive")?;
    database::load(settings, &entry.name, &staging.path().join(&entry.name), force).await?;
    let db = super::super::db::connect(settings).await?;
    // An archive from an older Bwenge is brought up to this one's schema.
    super::super::db::migrate(&db).await?;
    db.close().await?;

    if force {
        let mut previous = Vec::new();
        loop {
            let documents = vectors.document_ids(10_000).await?;
            if documents.is_empty() {
                break;
            }
            ensure!(documents != previous, "the vector store still lists documents it was told to delete");
            vectors.delete_documents(&documents).await?;
            previous = documents;
        }
    }
    let points = import_vectors(vectors.as_ref(), &staging.path().join(VECTORS_ENTRY)).await?;
    ensure!(
        points == manifest.vector_points,
        "restored {points} vector points, the manifest lists {}",
        manifest.vector_points
    );
    vectors.flush().await?;
    drop(vectors);

    for entry in &manifest.entries {
        let staged = staging.path().join(&entry.name);
        if let Some(key) = entry.name.strip_prefix(OBJECTS_PREFIX) {
            objects.put_file(key, &staged).await?;
        } else if let Some(name) = entry.name.strip_prefix(SECRETS_PREFIX) {
            let target = data_dir.join("secrets").join(name);
            if target.exists() && !force {
                bail!("{} exists: pass --force to replace the instance's keys", target.display());
            }
            std::fs::create_dir_all(data_dir.join("secrets"))?;
            std::fs::copy(&staged, &target).with_context(|| format!("writing {}", target.display()))?;
            restrict(&target)?;
        }
    }
    tracing::info!(archive = %archive.display(), created_at = %manifest.created_at, points, objects = manifest.objects, "backup restored");
    Ok(manifest)
}

/// The configured vector store, opened on its own (not through a running server's backends).
pub fn open_vectors(settings: &Settings) -> anyhow::Result<Arc<dyn VectorStore>> {
    Ok(match settings.vectors_url() {
        Some(url) => Arc::new(QdrantVectorStore::connect(
            url,
            crate::config::secret_opt(&settings.vectors.api_key),
            &settings.vectors.collection,
        )?),
        None => Arc::new(
            EdgeVectorStore::open(&settings.server.data_dir.join("vectors"), settings.embeddings.dimensions)
                .context("opening the embedded vector engine (is a server running on this data dir? stop it first)")?,
        ),
    })
}

async fn import_vectors(store: &dyn VectorStore, path: &Path) -> anyhow::Result<u64> {
    let reader = std::io::BufReader::new(std::fs::File::open(path)?);
    let (mut batch, mut count) = (Vec::with_capacity(VECTOR_PAGE), 0u64);
    for line in reader.lines() {
        let point: StoredPoint = serde_json::from_str(&line?).context("a vector line of the archive")?;
        batch.push(VectorPoint::from(point));
        if batch.len() == VECTOR_PAGE {
            count += batch.len() as u64;
            store.upsert(std::mem::take(&mut batch)).await?;
        }
    }
    count += batch.len() as u64;
    if !batch.is_empty() {
        store.upsert(batch).await?;
    }
    Ok(count)
}

#[cfg(unix)]
fn restrict(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_: &Path) -> anyhow::Result<()> {
    Ok(())
}
