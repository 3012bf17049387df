//! Object storage for uploads and avatars: a local directory by default, any `object_store` URL
//! (`s3://bucket/prefix`, `gs://`, `az://`) when configured. Keys are relative paths like `org/<id>/doc/<id>`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Prepended to every key (the path part of the configured URL).
    root: ObjectPath,
    backend: &'static str,
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
            return Ok(Self { store: Arc::new(store), root: ObjectPath::default(), backend: "local" });
        }
        let parsed = url::Url::parse(url).context("storage.url is not a URL")?;
        // Credentials and region come from the conventional variables (AWS_ACCESS_KEY_ID, AWS_ENDPOINT, ...).
        let options: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("GOOGLE_") || k.starts_with("AZURE_"))
            .map(|(k, v)| (k.to_lowercase(), v))
            .collect();
        let (store, root) = object_store::parse_url_opts(&parsed, options).context("opening the object store")?;
        Ok(Self { store: Arc::from(store), root, backend: "remote" })
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
    }
}
