//! One process-wide TLS crypto provider.
//!
//! `reqwest` 0.13 (HTTP clients: embeddings, `async-openai`) builds rustls with aws-lc-rs while `sqlx` enables
//! ring; with both linked, rustls refuses to pick one and the first TLS client panics. We choose aws-lc-rs once,
//! before anything opens a connection.

use std::sync::Once;

pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider is installed already (an embedding program chose one): keep theirs.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}
