//! The one integration-test binary: every test spawns the real app (see `helpers`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod chat;
mod chat_turns;
mod chat_ws;
mod cli;
mod errors;
mod fake_llm;
mod helpers;
mod ingest;
mod ingest_hostile;
mod jobs;
mod layout;
mod limits;
mod llm;
mod media;
mod openapi;
mod ops;
mod personas;
mod platform;
mod shutdown;
mod tenancy;
mod users;
