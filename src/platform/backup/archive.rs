//! The archive: a gzip-compressed tar whose entries are written straight from files on disk (never whole in
//! memory) while their SHA-256 is computed, and whose last entry is the manifest that lists them. A truncated
//! archive has no manifest (and a broken gzip trailer); an altered byte fails gzip's CRC or an entry's checksum.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail, ensure};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The archive layout this build writes and the newest it reads.
pub const FORMAT: u32 = 1;
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    /// The Bwenge version that wrote the archive.
    pub bwenge_version: String,
    /// The last database migration applied when the database was copied.
    pub schema: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// `sqlite` (a `VACUUM INTO` copy) or `postgres` (a `pg_dump` custom-format dump).
    pub database: String,
    /// Rows per table at the time of the copy.
    pub rows: BTreeMap<String, u64>,
    pub vector_points: u64,
    pub objects: u64,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

pub struct Writer<W: Write> {
    tar: tar::Builder<GzEncoder<W>>,
    entries: Vec<Entry>,
}

impl Writer<BufWriter<File>> {
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self::new(BufWriter::new(file)))
    }
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Self {
        Self { tar: tar::Builder::new(GzEncoder::new(out, Compression::fast())), entries: Vec::new() }
    }

    /// Adds the file at `path` as `name`, hashing it as it streams.
    pub fn add_file(&mut self, name: &str, path: &Path) -> anyhow::Result<()> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let bytes = file.metadata()?.len();
        let mut reader = Hashing { inner: BufReader::new(file), hasher: Sha256::new(), read: 0 };
        self.tar.append_data(&mut header(bytes), name, &mut reader).with_context(|| format!("archiving {name}"))?;
        ensure!(reader.read == bytes, "{} changed size while it was archived", path.display());
        self.entries.push(Entry { name: name.to_owned(), bytes, sha256: hex::encode(reader.hasher.finalize()) });
        Ok(())
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Writes the manifest (with the entries added) last and closes the archive.
    pub fn finish(mut self, mut manifest: Manifest) -> anyhow::Result<Manifest> {
        manifest.entries = std::mem::take(&mut self.entries);
        let json = serde_json::to_vec_pretty(&manifest)?;
        self.tar.append_data(&mut header(json.len() as u64), MANIFEST, json.as_slice())?;
        let mut out = self.tar.into_inner()?.finish()?;
        out.flush()?;
        Ok(manifest)
    }
}

fn header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(0);
    header
}

struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Unpacks `archive` into the empty directory `into`, checking every entry against the manifest, and returns the
/// manifest. Refuses an archive that is truncated, altered, of a newer format, or holds unexpected names.
pub fn unpack_verified(archive: &Path, into: &Path) -> anyhow::Result<Manifest> {
    let file = File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
    let mut tar = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
    let mut found: BTreeMap<String, Entry> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    let corrupt = |e: io::Error| anyhow::anyhow!("the archive is truncated or corrupt ({e})");
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let name = entry.path().map_err(corrupt)?.to_string_lossy().into_owned();
        ensure!(manifest.is_none(), "the archive has entries after its manifest ({name})");
        if name == MANIFEST {
            let mut json = Vec::new();
            entry.read_to_end(&mut json).map_err(corrupt)?;
            manifest = Some(serde_json::from_slice(&json).context("the archive's manifest is not valid")?);
            continue;
        }
        let target = into.join(safe_relative(&name)?);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = BufWriter::new(File::create(&target).with_context(|| format!("creating {}", target.display()))?);
        let mut reader = Hashing { inner: &mut entry, hasher: Sha256::new(), read: 0 };
        io::copy(&mut reader, &mut out).map_err(corrupt)?;
        out.flush()?;
        let entry = Entry { name: name.clone(), bytes: reader.read, sha256: hex::encode(reader.hasher.finalize()) };
        ensure!(found.insert(name.clone(), entry).is_none(), "the archive holds {name} twice");
    }
    // The gzip trailer (CRC and length) is only checked once the stream is read to its end.
    io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(corrupt)?;
    let Some(manifest) = manifest else { bail!("the archive has no manifest: it is truncated or not a Bwenge backup") };
    ensure!(
        manifest.format <= FORMAT,
        "the archive was written by a newer Bwenge ({}, archive format {}); this is {} (format {FORMAT}): upgrade first",
        manifest.bwenge_version,
        manifest.format,
        env!("CARGO_PKG_VERSION")
    );
    for listed in &manifest.entries {
        match found.remove(&listed.name) {
            Some(entry) if entry == *listed => {}
            Some(_) => bail!("{} does not match its checksum: the archive was altered or damaged", listed.name),
            None => bail!("{} is missing from the archive", listed.name),
        }
    }
    if let Some(extra) = found.keys().next() {
        bail!("{extra} is in the archive but not in its manifest");
    }
    Ok(manifest)
}

/// A relative path without `..`, root or prefix components, so an entry can never be written outside `into`.
fn safe_relative(name: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(name);
    let safe = !name.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    ensure!(safe, "the archive holds an unsafe path {name:?}");
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT,
            bwenge_version: "0.1.0".into(),
            schema: "m1".into(),
            created_at: chrono::Utc::now(),
            database: "sqlite".into(),
            rows: BTreeMap::from([("users".into(), 2)]),
            vector_points: 0,
            objects: 1,
            entries: Vec::new(),
        }
    }

    fn archive(dir: &Path) -> PathBuf {
        let (a, b) = (dir.join("a.bin"), dir.join("b.txt"));
        std::fs::write(&a, vec![7u8; 300_000]).unwrap();
        std::fs::write(&b, "hello").unwrap();
        let path = dir.join("backup.tar.gz");
        let mut writer = Writer::create(&path).unwrap();
        writer.add_file("database.sqlite", &a).unwrap();
        writer.add_file("objects/org/1/doc", &b).unwrap();
        let written = writer.finish(manifest()).unwrap();
        assert_eq!(written.entries.len(), 2);
        path
    }

    #[test]
    fn round_trips_and_checks_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = archive(dir.path());
        let into = dir.path().join("out");
        let read = unpack_verified(&path, &into).unwrap();
        assert_eq!(read.rows["users"], 2);
        assert_eq!(std::fs::read(into.join("objects/org/1/doc")).unwrap(), b"hello");
        assert_eq!(std::fs::metadata(into.join("database.sqlite")).unwrap().len(), 300_000);
    }

    #[test]
    fn truncated_or_altered_archives_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = archive(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        let truncated = dir.path().join("truncated.tar.gz");
        std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let err = unpack_verified(&truncated, &dir.path().join("t")).unwrap_err();
        assert!(format!("{err:#}").contains("truncated"), "{err:#}");
        // A flipped bit in gzip's CRC. (A flip inside the deflate stream may land on a bit the decoder never reads,
        // leaving the content intact: that archive is fine, so the test does not pick a random spot.)
        let mut altered = bytes.clone();
        let at = bytes.len() - 6;
        altered[at] ^= 0x01;
        std::fs::write(dir.path().join("crc.tar.gz"), &altered).unwrap();
        let err = unpack_verified(&dir.path().join("crc.tar.gz"), &dir.path().join("c")).unwrap_err();
        assert!(format!("{err:#}").contains("corrupt"), "{err:#}");
        // Valid gzip and tar around a changed byte of an entry: only its checksum can tell.
        let mut tar = Vec::new();
        GzDecoder::new(bytes.as_slice()).read_to_end(&mut tar).unwrap();
        let at = tar.windows(5).position(|w| w == b"hello").unwrap();
        tar[at] = b'j';
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&tar).unwrap();
        std::fs::write(dir.path().join("rewritten.tar.gz"), gz.finish().unwrap()).unwrap();
        let err = unpack_verified(&dir.path().join("rewritten.tar.gz"), &dir.path().join("r")).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
    }

    #[test]
    fn a_newer_format_and_unsafe_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("newer.tar.gz");
        let writer = Writer::create(&path).unwrap();
        writer.finish(Manifest { format: FORMAT + 1, ..manifest() }).unwrap();
        let err = unpack_verified(&path, &dir.path().join("n")).unwrap_err();
        assert!(err.to_string().contains("newer Bwenge"), "{err}");
        assert!(safe_relative("../etc/passwd").is_err());
        assert!(safe_relative("/etc/passwd").is_err());
        assert!(safe_relative("objects/a/b").is_ok());
    }
}
