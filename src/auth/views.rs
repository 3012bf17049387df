//! What the auth routes take and send, with the limits the server enforces written into their schemas.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::entities::{api_key, audit, invitation, org, user};

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

/// Longest name (of a person, an organisation, an API key), in characters after trimming.
pub const NAME_MAX: usize = 200;
/// RFC 5321's limit on a whole address.
pub const EMAIL_MAX: usize = 320;
/// Refresh tokens and invitation tokens are 43 characters (plus a prefix); anything much longer is not one.
pub const TOKEN_MAX: usize = 200;
/// Longest search text for people, and longest audit action filter.
pub const QUERY_MAX: usize = 200;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"org_name": "Kigali Hill School", "email": "amina@hill.example.org",
    "password": "correct horse battery staple", "name": "Amina Uwase"}))]
pub struct RegisterRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub org_name: String,
    #[schema(format = Email, max_length = 320)]
    pub email: String,
    /// At least 10 characters and hard to guess (a zxcvbn score of 3 or more).
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Browsers: set the refresh token as an HttpOnly cookie (scoped to `/api/v1/auth/`) instead of returning it,
    /// so no script can read it.
    #[serde(default)]
    pub refresh_in_cookie: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "amina@hill.example.org", "password": "correct horse battery staple"}))]
pub struct LoginRequest {
    #[schema(max_length = 320)]
    pub email: String,
    #[schema(max_length = 256)]
    pub password: String,
    /// Browsers: set the refresh token as an HttpOnly cookie (scoped to `/api/v1/auth/`) instead of returning it,
    /// so no script can read it.
    #[serde(default)]
    pub refresh_in_cookie: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token; may be left out when it is in the refresh cookie.
    #[schema(min_length = 1, max_length = 200)]
    pub refresh_token: Option<String>,
    /// Answer with the next refresh token in the cookie. Defaults to wherever the presented one came from.
    pub refresh_in_cookie: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// Ends this token's family (one device); the refresh cookie, when present, counts as this. Without either,
    /// every session of the caller ends.
    #[schema(max_length = 200)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer ...`.
    pub access_token: String,
    /// Opaque; trade it at `/auth/refresh` for a new pair. Single use. Absent when it went into the cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until `access_token` expires.
    pub expires_in: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<user::Model> for UserView {
    fn from(u: user::Model) -> Self {
        Self {
            id: u.id,
            org_id: u.org_id,
            email: u.email,
            name: u.name,
            role: u.role,
            active: u.active,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    pub id: Uuid,
    pub name: String,
    pub plan: String,
    pub created_at: DateTime<Utc>,
}

impl From<org::Model> for OrgView {
    fn from(o: org::Model) -> Self {
        Self { id: o.id, name: o.name, plan: o.plan, created_at: o.created_at }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `null` when the caller is an API key.
    pub user: Option<UserView>,
    pub org: OrgView,
    pub role: Role,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Matches name or email, case-insensitively.
    #[param(max_length = 200)]
    pub q: Option<String>,
    pub role: Option<Role>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"role": "teacher"}))]
pub struct UpdateUser {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub role: Option<Role>,
    /// `false` deactivates: sign-in and refresh stop at once; access tokens already issued lapse within 15 min.
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "jean@hill.example.org", "role": "student"}))]
pub struct CreateInvitation {
    #[schema(format = Email, max_length = 320)]
    pub email: String,
    /// `teacher` or `student` (admins); `student` (teachers).
    pub role: Role,
    /// A class the invitee joins on accepting: one the inviter teaches (or any, for an admin).
    #[serde(default)]
    pub class_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationCreated {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    /// Shown once: send it to the invitee, who accepts at `POST /invitations/{token}/accept`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// An invitation waiting to be accepted (its token was shown once, at creation).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub invited_by: Uuid,
    pub class_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Past `expires_at`: it can no longer be accepted, only revoked.
    pub expired: bool,
}

impl From<invitation::Model> for InvitationView {
    fn from(i: invitation::Model) -> Self {
        Self {
            id: i.id,
            email: i.email,
            role: i.role,
            invited_by: i.invited_by,
            class_id: i.class_id,
            created_at: i.created_at,
            expired: i.expires_at <= Utc::now(),
            expires_at: i.expires_at,
        }
    }
}

/// How people join this server, for its sign-in page.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerStatus {
    pub registration: crate::config::Registration,
    /// No organisation exists yet: unless `registration` is `closed`, the first visitor may create one.
    pub first_run: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Jean Mugisha", "password": "purple elephant under seven bridges"}))]
pub struct AcceptInvitation {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    /// Browsers: set the refresh token as an HttpOnly cookie (scoped to `/api/v1/auth/`) instead of returning it,
    /// so no script can read it.
    #[serde(default)]
    pub refresh_in_cookie: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// GET requests only.
    Read,
    /// Reads and writes, with the `teacher` role: content, never people, keys or billing.
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "gradebook sync", "scope": "read"}))]
pub struct CreateApiKey {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub scope: Scope,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    pub scope: String,
    /// The first characters of the key, to recognise it in a list.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<api_key::Model> for ApiKeyView {
    fn from(k: api_key::Model) -> Self {
        Self {
            id: k.id,
            name: k.name,
            scope: k.scope,
            prefix: k.prefix,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// Shown once. Send as `Authorization: Bearer <key>`.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    pub actor_id: Option<Uuid>,
    /// The actor's name, while their account exists.
    pub actor_name: Option<String>,
    /// e.g. `login.succeeded`, `login.failed`, `token.reuse_detected`, `user.role_changed`, `api_key.created`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<audit::Model> for AuditEntry {
    fn from(row: audit::Model) -> Self {
        Self {
            id: row.id,
            actor_id: row.actor_id,
            actor_name: None,
            action: row.action,
            target_type: row.target_type,
            target_id: row.target_id,
            ip: row.ip,
            details: row.details,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only entries with this action.
    #[param(max_length = 200)]
    pub action: Option<String>,
    /// Only entries by this person.
    pub actor_id: Option<Uuid>,
    /// Only entries at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this instant.
    pub to: Option<DateTime<Utc>>,
}

pub use super::events::{AccessChanged, SignedIn};

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
