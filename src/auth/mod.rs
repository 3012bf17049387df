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
pub use extract::{Admin, AuthUser, Credential, MinRole, RequireRole, Staff, Tenant, authenticate};
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
    // One resource per path, so a known path with the wrong method answers 405, not 404.
    cfg.service(web::resource("/auth/register").post(session::register))
        .service(web::resource("/auth/login").post(session::login))
        .service(web::resource("/auth/refresh").post(session::refresh))
        .service(web::resource("/auth/logout").post(session::logout))
        .service(web::resource("/auth/me").get(session::me))
        .service(web::resource("/users").get(users::list))
        .service(web::resource("/users/{id}").get(users::get).patch(users::update).delete(users::delete))
        .service(web::resource("/invitations").post(invitations::create))
        .service(web::resource("/invitations/{token}/accept").post(invitations::accept))
        .service(web::resource("/api-keys").post(api_keys::create).get(api_keys::list))
        .service(web::resource("/api-keys/{id}").delete(api_keys::revoke))
        .service(web::resource("/audit").get(audit::list));
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
