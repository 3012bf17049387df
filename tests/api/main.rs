//! The one integration-test binary: every test spawns the real app (see `helpers`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod cli;
mod errors;
mod helpers;
mod ingest;
mod jobs;
mod limits;
mod ops;
mod platform;
mod shutdown;
mod tenancy;
mod users;
