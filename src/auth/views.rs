//! What the auth routes send and the small input checks they share.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Role;
use super::entities::{org, user};
use super::error::AuthError;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer ...`.
    pub access_token: String,
    /// Opaque; trade it at `/auth/refresh` for a new pair. Single use.
    pub refresh_token: String,
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
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_login_at: Option<chrono::DateTime<chrono::Utc>>,
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
    pub created_at: chrono::DateTime<chrono::Utc>,
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

/// Trimmed, non-empty, at most `max` characters.
pub fn require_text(field: &str, value: &str, max: usize) -> Result<String, AuthError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AuthError::Invalid(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(AuthError::Invalid(format!("{field} must be at most {max} characters")));
    }
    Ok(value.to_owned())
}

/// Lower-cased and trimmed; one `@` with text on both sides and a dot in the domain. Deliverability is the
/// invitation's job, not this check's.
pub fn normalize_email(value: &str) -> Result<String, AuthError> {
    let email = value.trim().to_lowercase();
    let valid = email.len() <= 320
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && email.matches('@').count() == 1;
    if valid { Ok(email) } else { Err(AuthError::Invalid("email is not a valid address".into())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Amina@School.RW ").unwrap(), "amina@school.rw");
        for bad in ["", "no-at", "@school.rw", "a@b", "a@@b.rw", "a b@c.rw", "a@.rw"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
