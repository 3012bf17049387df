//! Accounts, tenancy and access: organisations, users and roles, tokens, invitations, API keys, rate limits on
//! sign-in, and the audit log. Other domains use the extractors (`AuthUser`, `RequireRole`, `ClientIp`) and
//! [`AuthService`], never these tables.

mod entities;
mod error;
mod events;
mod extractors;
mod jwt;
mod password;
mod routes;
mod secrets;
pub mod service;
mod store;
pub mod views;

use actix_web::web;
use utoipa::OpenApi;

pub use error::AuthError;
pub use extractors::{Admin, AuthUser, ClientIp, Credential, MinRole, RequireRole, Staff};
pub use service::{Audit, AuthService, Enrolment, Person, UserData};
pub use views::Role;

use crate::billing::BillingService;
use crate::platform::Backends;

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::signin::register, routes::signin::login, routes::signin::refresh, routes::signin::logout,
        routes::signin::me, routes::signin::status,
        routes::users::list, routes::users::get, routes::users::update, routes::users::delete,
        routes::invitations::create, routes::invitations::accept, routes::invitations::list,
        routes::invitations::revoke,
        routes::api_keys::create, routes::api_keys::list, routes::api_keys::revoke,
        routes::audit::list,
    ),
    components(schemas(Role)),
    tags((name = "auth", description = "Sign-up, sign-in, tokens, audit log"),
        (name = "users", description = "People of an organisation, invitations and API keys"))
)]
pub struct AuthApi;

/// The domain's state: its signing key, loaded or created in the data dir; billing, asked about seats.
pub fn init(backends: &Backends, billing: BillingService) -> anyhow::Result<AuthService> {
    AuthService::new(backends, billing)
}

pub fn configure(cfg: &mut web::ServiceConfig, service: &AuthService) {
    cfg.app_data(web::Data::new(service.clone()));
    routes::configure(cfg);
}
