//! Bwenge: a self-hosted, multi-tenant AI-tutor platform, as one modular-monolith binary.
//!
//! `platform` holds infrastructure with no domain knowledge (its [`platform::Backends`] is all a domain gets from
//! outside); each domain (`auth`, `ingest`, `persona`, `chat`, and the seams `avatar` and `billing`) has the same
//! skeleton and owns its routes, OpenAPI, state and errors; `app` builds the domains from one list and mounts
//! them behind one router; `web` serves the browser app (`static/`) beside them.

pub mod analytics;
pub mod app;
pub mod auth;
pub mod avatar;
pub mod billing;
pub mod chat;
pub mod classes;
pub mod config;
pub mod error;
pub mod http;
pub mod ingest;
pub mod openapi;
pub mod ops;
pub mod pagination;
pub mod persona;
pub mod platform;
pub mod web;

pub use app::Application;
