//! The operator's commands that touch a whole instance: `backup`, `restore` and `status`. `main.rs` parses the
//! command line and calls these.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::config::Settings;
use crate::platform::backup::{self, Manifest, Sources};
use crate::platform::{db, storage::Storage};

/// `bwenge backup --out FILE`. Reads the backends itself; when the embedded vector engine is held by a server
/// running on this data dir, asks that server (`POST /ops/backup`) instead.
pub async fn backup(settings: &Settings, out: &Path) -> anyhow::Result<()> {
    let vectors = match backup::open_vectors(settings) {
        Ok(vectors) => vectors,
        Err(err) if settings.vectors_url().is_none() && format!("{err:#}").contains("already open") => {
            println!("a server holds {}; asking it for the backup", settings.server.data_dir.display());
            return backup_through_server(settings, out).await;
        }
        Err(err) => return Err(err),
    };
    let database = db::connect(settings).await?;
    let objects = Storage::open(&settings.storage.url, &settings.server.data_dir)?;
    let from = Sources { settings, db: &database, objects: &objects, vectors: vectors.as_ref() };
    let manifest = backup::create(from, out).await?;
    print_manifest("backed up", out, &manifest);
    Ok(())
}

async fn backup_through_server(settings: &Settings, out: &Path) -> anyhow::Result<()> {
    let token = crate::ops::backups::OpsToken::load_or_create(&settings.server.data_dir)?;
    let url = format!("http://127.0.0.1:{}/ops/backup", settings.server.port);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(24 * 3600)).build()?;
    let mut response = client.post(&url).bearer_auth(token.as_str()).send().await.with_context(|| {
        format!("asking the server at {url} (pass its --port if it is not {})", settings.server.port)
    })?;
    if !response.status().is_success() {
        bail!("the server answered {}: {}", response.status(), response.text().await.unwrap_or_default());
    }
    let partial = out.with_extension("partial");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
    while let Some(part) = response.chunk().await.context("receiving the archive")? {
        file.write_all(&part)?;
    }
    file.flush()?;
    drop(file);
    // Checked as a restore would check it, so a broken transfer never passes for a backup.
    let check = tempfile::tempdir()?;
    let manifest = backup::archive::unpack_verified(&partial, check.path())?;
    std::fs::rename(&partial, out)?;
    print_manifest("backed up", out, &manifest);
    Ok(())
}

/// `bwenge restore --from FILE [--force]`.
pub async fn restore(settings: &Settings, from: &Path, force: bool) -> anyhow::Result<()> {
    let manifest = backup::restore(settings, from, force).await?;
    print_manifest("restored", from, &manifest);
    Ok(())
}

fn print_manifest(done: &str, path: &Path, manifest: &Manifest) {
    let rows: u64 = manifest.rows.values().sum();
    let users = manifest.rows.get("users").copied().unwrap_or(0);
    let documents = manifest.rows.get("documents").copied().unwrap_or(0);
    println!(
        "{done} {} ({} database, schema {}, taken {}): {rows} rows ({users} users, {documents} documents), {} vector \
         points, {} files",
        path.display(),
        manifest.database,
        manifest.schema,
        manifest.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        manifest.vector_points,
        manifest.objects
    );
}
