//! Server secrets and signed links. A secret not configured is generated once and kept in
//! `<data_dir>/secrets/<name>.key` (mode 0600): restarts keep tokens and links valid, and no two installs ever
//! share a built-in default. [`LinkSigner`] signs a stored file's key with an expiry (HMAC-SHA256), so a link can
//! be handed to a browser (an `<img>`, a model loader) that sends no credentials of its own.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The key at `path`, created (64 random bytes) if there is none yet.
pub fn load_or_create_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(existing) = std::fs::read(path) {
        anyhow::ensure!(existing.len() >= 32, "{} is too short to be a signing key", path.display());
        return Ok(existing);
    }
    let dir = path.parent().context("key path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut key = vec![0u8; 64];
    rand::rng().fill_bytes(&mut key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(&key)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a new signing key");
            Ok(key)
        }
        // Another process sharing the data dir created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(std::fs::read(path)?),
        Err(e) => Err(anyhow::Error::new(e).context(format!("creating {}", path.display()))),
    }
}

/// Why a signed link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The signature does not match the key and expiry (tampered, or signed by another install).
    Invalid,
    Expired,
}

/// Signs `(key, expires)` pairs. The expiry is inside the MAC, so extending a link breaks its signature.
#[derive(Clone)]
pub struct LinkSigner {
    /// Keyed once; each signature starts from a clone.
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner([REDACTED])")
    }
}

impl LinkSigner {
    pub fn new(secret: Vec<u8>) -> anyhow::Result<Self> {
        anyhow::ensure!(secret.len() >= 32, "a link signing secret must be at least 32 bytes");
        let keyed = Hmac::<Sha256>::new_from_slice(&secret).map_err(|_| anyhow::anyhow!("unusable signing key"))?;
        Ok(Self { keyed })
    }

    fn mac(&self, key: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        // A separator that cannot occur in a key, so ("a", 12) and ("a1", 2) never sign the same bytes.
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The hex signature of `key` valid until `expires` (Unix seconds).
    pub fn sign(&self, key: &str, expires: i64) -> String {
        hex::encode(self.mac(key, expires).finalize().into_bytes())
    }

    /// Checks the signature first (in constant time), then the expiry, at `now` (Unix seconds).
    pub fn verify(&self, key: &str, expires: i64, signature: &str, now: i64) -> Result<(), LinkError> {
        let presented = hex::decode(signature).map_err(|_| LinkError::Invalid)?;
        self.mac(key, expires).verify_slice(&presented).map_err(|_| LinkError::Invalid)?;
        if expires < now { Err(LinkError::Expired) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_verifies_until_it_expires_and_any_change_breaks_it() {
        let signer = LinkSigner::new(vec![7; 64]).unwrap();
        let sig = signer.sign("org/1/avatars/2.glb", 1_000);
        assert_eq!(sig.len(), 64);
        assert_eq!(signer.verify("org/1/avatars/2.glb", 1_000, &sig, 999), Ok(()));
        assert_eq!(signer.verify("org/1/avatars/2.glb", 1_000, &sig, 1_001), Err(LinkError::Expired));
        assert_eq!(signer.verify("org/1/avatars/2.glb", 2_000, &sig, 999), Err(LinkError::Invalid));
        assert_eq!(signer.verify("org/1/avatars/3.glb", 1_000, &sig, 999), Err(LinkError::Invalid));
        assert_eq!(signer.verify("org/1/avatars/2.glb", 1_000, "zz", 999), Err(LinkError::Invalid));
        let other = LinkSigner::new(vec![8; 64]).unwrap();
        assert_eq!(other.verify("org/1/avatars/2.glb", 1_000, &sig, 999), Err(LinkError::Invalid));
        assert!(LinkSigner::new(vec![1; 8]).is_err());
    }

    #[test]
    fn a_generated_key_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets/assets.key");
        let key = load_or_create_key(&path).unwrap();
        assert_eq!(key.len(), 64);
        assert_eq!(load_or_create_key(&path).unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
