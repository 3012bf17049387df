//! Shared infrastructure. Knows nothing of domains: each backend is a trait or a thin type with one real
//! implementation per deployment shape (embedded default, distributed when configured).

mod backends;
pub mod backup;
pub mod db;
pub mod events;
pub mod jobs;
pub mod leases;
pub mod llm;
pub mod mail;
pub mod metrics;
#[cfg(test)]
pub mod mutate;
pub mod pubsub;
pub mod ratelimit;
pub mod redis;
pub mod signing;
pub mod storage;
pub mod telemetry;
pub mod tls;
pub mod vectors;

pub use backends::Backends;
