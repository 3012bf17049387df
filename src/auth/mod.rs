//! Accounts, tenancy and access: organisations, users and roles, tokens, invitations, API keys, rate limits
//! on sign-in, and the audit log. Other domains use the extractors (`AuthUser`, `Tenant`, `RequireRole`)
//! and never these tables.

mod api_keys;
pub mod audit;
mod entities;
mod error;
mod extract;
mod invitations;
pub mod keys;
mod password;
mod secrets;
mod session;
mod users;
mod views;

use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub use error::AuthError;
pub use extract::{Admin, AuthUser, Credential, MinRole, RequireRole, Staff, Tenant};
pub use keys::JwtKeys;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Teacher,
    Student,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Teacher => "teacher",
            Self::Student => "student",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "admin" => Some(Self::Admin),
            "teacher" => Some(Self::Teacher),
            "student" => Some(Self::Student),
            _ => None,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Self::Student => 0,
            Self::Teacher => 1,
            Self::Admin => 2,
        }
    }

    pub fn at_least(self, min: Role) -> bool {
        self.rank() >= min.rank()
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(
        session::register, session::login, session::refresh, session::logout, session::me,
        users::list, users::get, users::update, users::delete,
        invitations::create, invitations::accept,
        api_keys::create, api_keys::list, api_keys::revoke,
        audit::list,
    ),
    components(schemas(Role)),
    tags((name = "auth", description = "Sign-up, sign-in, tokens, audit log"),
        (name = "users", description = "People, invitations and API keys of an organisation"))
)]
pub struct AuthApi;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/register", web::post().to(session::register))
        .route("/auth/login", web::post().to(session::login))
        .route("/auth/refresh", web::post().to(session::refresh))
        .route("/auth/logout", web::post().to(session::logout))
        .route("/auth/me", web::get().to(session::me))
        .route("/users", web::get().to(users::list))
        .route("/users/{id}", web::get().to(users::get))
        .route("/users/{id}", web::patch().to(users::update))
        .route("/users/{id}", web::delete().to(users::delete))
        .route("/invitations", web::post().to(invitations::create))
        .route("/invitations/{token}/accept", web::post().to(invitations::accept))
        .route("/api-keys", web::post().to(api_keys::create))
        .route("/api-keys", web::get().to(api_keys::list))
        .route("/api-keys/{id}", web::delete().to(api_keys::revoke))
        .route("/audit", web::get().to(audit::list));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_admin_over_teacher_over_student() {
        assert!(Role::Admin.at_least(Role::Teacher));
        assert!(Role::Teacher.at_least(Role::Teacher));
        assert!(!Role::Student.at_least(Role::Teacher));
        assert!(!Role::Teacher.at_least(Role::Admin));
        for role in [Role::Admin, Role::Teacher, Role::Student] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }
}
