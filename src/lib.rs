//! Bwenge: a self-hosted, multi-tenant AI-tutor platform, as one modular-monolith binary.
//!
//! `platform` holds infrastructure with no domain knowledge; each domain module owns its routes, OpenAPI and
//! errors; `app` wires them behind one router.

pub mod app;
pub mod auth;
pub mod chat;
pub mod config;
pub mod error;
pub mod http;
pub mod ingest;
pub mod openapi;
pub mod ops;
pub mod pagination;
pub mod persona;
pub mod platform;

pub use app::{AppState, Application};
