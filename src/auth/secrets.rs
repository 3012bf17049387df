//! Opaque secrets (refresh tokens, invitation tokens, API keys): random, shown once, stored only as a SHA-256
//! hash. They carry 256 bits of entropy, so a fast hash is enough: there is nothing to brute-force.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// API keys start with this, so the extractor tells them from JWTs and secret scanners can find leaked ones.
pub const API_KEY_PREFIX: &str = "bwk_";

pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn digest(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_hash_stably() {
        let (a, b) = (generate("x_"), generate("x_"));
        assert_ne!(a, b);
        assert!(a.starts_with("x_") && a.len() == 2 + 43);
        assert_eq!(digest(&a), digest(&a));
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
    }
}
