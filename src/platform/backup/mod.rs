//! Backups: one archive of the database, the vectors, the stored files and the instance's signing keys, with a
//! manifest (versions, counts) and a checksum per entry ([`archive`]). Taken while the server runs: the database
//! copy is one snapshot; vectors and files are read after it, so anything they hold that the copy does not (a
//! document uploaded meanwhile) is an orphan that the restored server's sweep removes.
//!
//! Vectors are exported as stored (ids, both vectors, payload) rather than as an engine's snapshot: the same
//! archive restores into the embedded engine or a Qdrant server, and nothing is re-embedded.

pub mod archive;
mod database;
mod restore;

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;

pub use archive::{FORMAT, Manifest};
pub use database::{row_counts, schema as schema_of};
pub use restore::{open_vectors, restore};

use sea_orm::DatabaseConnection;

use super::Backends;
use super::storage::Storage;
use super::vectors::VectorStore;
use crate::config::Settings;

/// What a backup reads: a running server's backends, or the CLI's own connections to them.
pub struct Sources<'a> {
    pub settings: &'a Settings,
    pub db: &'a DatabaseConnection,
    pub objects: &'a Storage,
    pub vectors: &'a dyn VectorStore,
}

impl<'a> From<&'a Backends> for Sources<'a> {
    fn from(backends: &'a Backends) -> Self {
        Self {
            settings: &backends.config,
            db: &backends.db,
            objects: &backends.objects,
            vectors: backends.vectors.as_ref(),
        }
    }
}

const VECTORS_ENTRY: &str = "vectors.jsonl";
const OBJECTS_PREFIX: &str = "objects/";
const SECRETS_PREFIX: &str = "secrets/";
/// Points per export page, and per upsert on restore.
const VECTOR_PAGE: usize = 256;
/// Objects are copied in parts of this size, so a large upload never sits in memory whole.
const OBJECT_PART: u64 = 8 << 20;

/// Writes a backup of everything `from` holds to `out` (a `.partial` file renamed at the end, so a failed
/// backup never leaves something that looks complete).
pub async fn create(from: Sources<'_>, out: &Path) -> anyhow::Result<Manifest> {
    let staging = tempfile::Builder::new()
        .prefix(".backup-")
        .tempdir_in(out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))
        .context("creating a staging directory beside the archive")?;
    let partial = out.with_extension("partial");
    let mut writer = Archiving(Some(archive::Writer::create(&partial)?));
    let settings = from.settings;

    let (entry, file) = database::snapshot(from.db, settings, staging.path()).await?;
    writer.add(entry.to_owned(), &file).await?;
    std::fs::remove_file(&file)?;
    let schema = database::schema(from.db).await?;
    let rows = database::row_counts(from.db).await?;

    let vectors = staging.path().join(VECTORS_ENTRY);
    let vector_points = export_vectors(from.vectors, &vectors).await?;
    writer.add(VECTORS_ENTRY.to_owned(), &vectors).await?;
    std::fs::remove_file(&vectors)?;

    let mut objects = 0;
    for (key, _) in from.objects.list("").await.context("listing stored files")? {
        let Some(copy) = copy_object(from.objects, &key, staging.path()).await? else { continue };
        writer.add(format!("{OBJECTS_PREFIX}{key}"), &copy).await?;
        std::fs::remove_file(&copy)?;
        objects += 1;
    }
    let secrets = settings.server.data_dir.join("secrets");
    if let Ok(dir) = std::fs::read_dir(&secrets) {
        for file in dir.flatten().filter(|f| f.path().extension().is_some_and(|e| e == "key")) {
            writer.add(format!("{SECRETS_PREFIX}{}", file.file_name().to_string_lossy()), &file.path()).await?;
        }
    }

    let manifest = Manifest {
        format: FORMAT,
        bwenge_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema,
        created_at: chrono::Utc::now(),
        database: super::db::backend_name(from.db).to_owned(),
        rows,
        vector_points,
        objects,
        entries: Vec::new(),
    };
    let manifest = writer.finish(manifest).await?;
    std::fs::rename(&partial, out).with_context(|| format!("writing {}", out.display()))?;
    tracing::info!(archive = %out.display(), rows = manifest.rows.values().sum::<u64>(), vector_points, objects, "backup written");
    Ok(manifest)
}

/// The archive writer, used from async code: compressing a large file takes seconds of CPU, which runs on the
/// blocking pool rather than on a server's async threads (a scheduled or requested backup runs inside the server).
struct Archiving(Option<archive::Writer<std::io::BufWriter<std::fs::File>>>);

impl Archiving {
    async fn add(&mut self, name: String, path: &Path) -> anyhow::Result<()> {
        let (mut writer, path) = (self.0.take().context("the archive failed earlier")?, path.to_path_buf());
        let writer = tokio::task::spawn_blocking(move || writer.add_file(&name, &path).map(|()| writer)).await??;
        self.0 = Some(writer);
        Ok(())
    }

    async fn finish(mut self, manifest: Manifest) -> anyhow::Result<Manifest> {
        let writer = self.0.take().context("the archive failed earlier")?;
        tokio::task::spawn_blocking(move || writer.finish(manifest)).await?
    }
}

/// Every point, one JSON object a line, in id order; returns how many.
async fn export_vectors(vectors: &dyn VectorStore, path: &Path) -> anyhow::Result<u64> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let (mut from, mut count) = (None, 0u64);
    loop {
        let page = vectors.export_page(from, VECTOR_PAGE).await.context("exporting vectors")?;
        for point in &page.points {
            serde_json::to_writer(&mut out, &restore::StoredPoint::from(point))?;
            out.write_all(b"\n")?;
            count += 1;
        }
        match page.next {
            Some(next) => from = Some(next),
            None => break,
        }
    }
    out.flush()?;
    Ok(count)
}

/// Copies one stored file into `dir` part by part; `None` if it was deleted since it was listed.
async fn copy_object(objects: &Storage, key: &str, dir: &Path) -> anyhow::Result<Option<std::path::PathBuf>> {
    let Some(info) = objects.head(key).await? else { return Ok(None) };
    let path = dir.join("object");
    let mut out = BufWriter::new(std::fs::File::create(&path)?);
    let mut at = 0;
    while at < info.size {
        let end = (at + OBJECT_PART).min(info.size);
        match objects.get_range(key, at..end).await {
            Ok(part) => out.write_all(&part)?,
            // Deleted between the listing and the copy: not part of this backup.
            Err(_) if objects.head(key).await?.is_none() => return Ok(None),
            Err(err) => return Err(err),
        }
        at = end;
    }
    out.flush()?;
    Ok(Some(path))
}
