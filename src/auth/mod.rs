//! Accounts, tokens and access: who the caller is (`AuthUser`) and which org every query is scoped to.

mod error;
mod extract;
pub mod keys;
mod routes;

use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub use error::AuthError;
pub use extract::AuthUser;
pub use keys::JwtKeys;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Teacher,
    Student,
}

#[derive(OpenApi)]
#[openapi(paths(routes::me), components(schemas(Role, routes::Me)), tags((name = "auth", description = "Sign-in and tokens")))]
pub struct AuthApi;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/me", web::get().to(routes::me));
}
