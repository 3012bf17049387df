//! Object storage for uploads and avatars: a local directory by default, any `object_store` URL
//! (`s3://bucket/prefix`, `gs://`, `az://`) when configured. Keys are relative paths like `org/<id>/doc/<id>`.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Prepended to every key (the path part of the configured URL).
    root: ObjectPath,
    backend: &'static str,
    /// S3 signs its own links (presigned URLs); a local directory has no signer, the server signs its links.
    signer: Option<Arc<dyn Signer>>,
}

/// What a stored object is, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    /// The store's version tag of the bytes, when it has one.
    pub e_tag: Option<String>,
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").field("backend", &self.backend).field("root", &self.root).finish()
    }
}

impl Storage {
    /// `url` empty: `<data_dir>/objects` on the local filesystem.
    pub fn open(url: &str, data_dir: &Path) -> anyhow::Result<Self> {
        if url.is_empty() {
            let dir = data_dir.join("objects");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let store = LocalFileSystem::new_with_prefix(&dir).context("opening the local object store")?;
            return Ok(Self { store: Arc::new(store), root: ObjectPath::default(), backend: "local", signer: None });
        }
        // Credentials and region come from the conventional variables (AWS_ACCESS_KEY_ID, AWS_ENDPOINT, ...).
        let options: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("GOOGLE_") || k.starts_with("AZURE_"))
            .map(|(k, v)| (k.to_lowercase(), v))
            .collect();
        Self::open_remote(url, options)
    }

    /// A store at `url` with `options` (lower-case `object_store` keys such as `aws_access_key_id`).
    fn open_remote(url: &str, options: Vec<(String, String)>) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url).context("storage.url is not a URL")?;
        let (store, root) =
            object_store::parse_url_opts(&parsed, options.clone()).context("opening the object store")?;
        if parsed.scheme() == "s3" {
            // The same store, built as its concrete type so it can also presign links.
            let mut builder = object_store::aws::AmazonS3Builder::new().with_url(url);
            for (key, value) in options {
                if let Ok(key) = key.parse() {
                    builder = builder.with_config(key, value);
                }
            }
            let s3 = Arc::new(builder.build().context("opening the S3 store")?);
            return Ok(Self { store: s3.clone(), root, backend: "remote", signer: Some(s3) });
        }
        Ok(Self { store: Arc::from(store), root, backend: "remote", signer: None })
    }

    pub fn backend(&self) -> &'static str {
        self.backend
    }

    fn path(&self, key: &str) -> ObjectPath {
        ObjectPath::from_iter(self.root.parts().chain(ObjectPath::from(key).parts()))
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.store.put(&self.path(key), PutPayload::from(bytes)).await.with_context(|| format!("writing {key}"))?;
        Ok(())
    }

    /// Streams a local file into the store in parts: a 100 MB upload never sits in memory whole.
    pub async fn put_file(&self, key: &str, file: &Path) -> anyhow::Result<()> {
        use tokio::io::AsyncReadExt;
        let mut source = tokio::fs::File::open(file).await.with_context(|| format!("opening {}", file.display()))?;
        let upload = self.store.put_multipart(&self.path(key)).await.with_context(|| format!("starting {key}"))?;
        let mut writer = object_store::WriteMultipart::new(upload);
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let read = source.read(&mut buffer).await.context("reading the upload")?;
            if read == 0 {
                break;
            }
            writer.wait_for_capacity(4).await.with_context(|| format!("writing {key}"))?;
            writer.write(&buffer[..read]);
        }
        writer.finish().await.with_context(|| format!("finishing {key}"))?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> anyhow::Result<Bytes> {
        let result = self.store.get(&self.path(key)).await.with_context(|| format!("opening {key}"))?;
        result.bytes().await.with_context(|| format!("reading {key}"))
    }

    /// Size and version of `key`; `None` when there is no such object.
    pub async fn head(&self, key: &str) -> anyhow::Result<Option<ObjectInfo>> {
        match self.store.head(&self.path(key)).await {
            Ok(meta) => Ok(Some(ObjectInfo { size: meta.size, e_tag: meta.e_tag, last_modified: meta.last_modified })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("looking up {key}"))),
        }
    }

    /// Bytes `range` of `key` (the caller checked the range against the size).
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> anyhow::Result<Bytes> {
        self.store.get_range(&self.path(key), range).await.with_context(|| format!("reading part of {key}"))
    }

    /// A link the store itself honours for `ttl` (an S3 presigned GET), or `None` when the store cannot sign.
    pub async fn presigned_get(&self, key: &str, ttl: Duration) -> anyhow::Result<Option<url::Url>> {
        let Some(signer) = &self.signer else { return Ok(None) };
        let url = signer
            .signed_url(object_store::signer::Method::GET, &self.path(key), ttl)
            .await
            .with_context(|| format!("presigning {key}"))?;
        Ok(Some(url))
    }

    /// Deleting a key that is already gone succeeds: deletes are retried by jobs and must be idempotent.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context(format!("deleting {key}"))),
        }
    }

    /// Every key under `prefix`, with when it was last written: for maintenance (an orphan sweep), not requests.
    pub async fn list(&self, prefix: &str) -> anyhow::Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
        use futures_util::TryStreamExt;
        let root_parts = self.root.parts().count();
        let listed: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&self.path(prefix)))
            .try_collect()
            .await
            .with_context(|| format!("listing {prefix}"))?;
        Ok(listed
            .into_iter()
            .map(|meta| {
                let key: Vec<String> = meta.location.parts().skip(root_parts).map(|p| p.as_ref().to_owned()).collect();
                (key.join("/"), meta.last_modified)
            })
            .collect())
    }

    /// A round trip to the store: a `head` of a key that does not exist must answer "not found".
    pub async fn health(&self) -> anyhow::Result<()> {
        match self.store.head(&self.path(".bwenge-health")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context("object store health check")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_store_round_trips_and_deletes_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open("", dir.path()).unwrap();
        storage.health().await.unwrap();
        storage.put("org/1/doc/2", Bytes::from_static(b"hello")).await.unwrap();
        assert!(dir.path().join("objects/org/1/doc/2").exists());
        assert_eq!(storage.get("org/1/doc/2").await.unwrap(), Bytes::from_static(b"hello"));
        storage.delete("org/1/doc/2").await.unwrap();
        storage.delete("org/1/doc/2").await.unwrap();

        let big = dir.path().join("big.bin");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&big, &data).unwrap();
        storage.put_file("org/1/doc/3", &big).await.unwrap();
        assert_eq!(storage.get("org/1/doc/3").await.unwrap().as_ref(), data.as_slice());
        assert!(storage.get("org/1/doc/2").await.is_err());
        let listed: Vec<String> = storage.list("org/1").await.unwrap().into_iter().map(|(key, _)| key).collect();
        assert_eq!(listed, ["org/1/doc/3"]);
        assert!(storage.list("org/2").await.unwrap().is_empty());

        let info = storage.head("org/1/doc/3").await.unwrap().unwrap();
        assert_eq!(info.size, 3_000_000);
        assert_eq!(storage.get_range("org/1/doc/3", 10..20).await.unwrap().as_ref(), &data[10..20]);
        assert_eq!(storage.head("org/1/doc/2").await.unwrap(), None);
        assert_eq!(storage.presigned_get("org/1/doc/3", Duration::from_secs(60)).await.unwrap(), None);
    }

    /// Presigning is local arithmetic (SigV4 over the request): no S3 needs to answer for the link to be made.
    #[tokio::test]
    async fn s3_storage_presigns_links_under_its_prefix() {
        let options = [
            ("aws_access_key_id", "AKIDEXAMPLE"),
            ("aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            ("aws_region", "eu-west-1"),
        ];
        let options = options.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let storage = Storage::open_remote("s3://school-bucket/bwenge", options).unwrap();
        let url = storage.presigned_get("org/1/avatars/2.glb", Duration::from_secs(300)).await.unwrap().unwrap();
        let text = url.as_str();
        assert!(text.contains("school-bucket") && text.contains("bwenge/org/1/avatars/2.glb"), "{text}");
        assert!(text.contains("X-Amz-Signature=") && text.contains("X-Amz-Expires=300"), "{text}");
    }
}
