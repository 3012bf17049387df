//! The accounts domain's API: authentication for every other domain's routes, the audit log they record in, and
//! the sign-in, people, invitation and API-key operations behind auth's own routes (in the files beside this one).

mod access;
mod keys;
mod people;
mod signin;

pub use people::Person;
pub use signin::{audit_offline, bootstrap_org, org_name};

use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::Method;
use chrono::Utc;
use uuid::Uuid;

use super::error::AuthError;
use super::extractors::{AuthUser, ClientIp, Credential};
use super::jwt::JwtKeys;
use super::views::{Role, TokenResponse};
use super::{entities::user, secrets, store};
use crate::billing::{BillingActivity, BillingService};
use crate::config::Settings;
use crate::platform::Backends;

#[derive(Clone)]
pub struct AuthService {
    backends: Backends,
    jwt: Arc<JwtKeys>,
    /// Whose `X-Forwarded-For` is believed.
    trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// The domains that keep a person's data, told when the person is deleted (see [`UserData`]).
    user_data: Arc<RwLock<Vec<Arc<dyn UserData>>>>,
    /// The domain that puts an invitee in the class their invitation names (see [`Enrolment`]).
    enrolment: Arc<RwLock<Option<Arc<dyn Enrolment>>>>,
    /// When people's access last changed, to refuse tokens issued before (see `access.rs`).
    revocations: Arc<access::Revocations>,
    /// Seats are a plan's limit: an invitation needs room, accepting one takes a seat, deleting a person frees it.
    billing: BillingService,
}

/// A domain that keeps data of a person which must go with them (a student's chats). It registers itself with
/// [`AuthService::keeps_user_data`]; auth then asks it to erase a person's data before their account goes, and
/// needs no knowledge of what the data is.
#[async_trait::async_trait]
pub trait UserData: Send + Sync + 'static {
    async fn erase_user(&self, org_id: Uuid, user_id: Uuid) -> anyhow::Result<()>;
}

/// A domain that groups people into classes. It registers itself with [`AuthService::enrols`]; auth then asks it
/// whether an inviter may name a class, and has it enrol the invitee once their account exists.
#[async_trait::async_trait]
pub trait Enrolment: Send + Sync + 'static {
    /// Whether `inviter` may put someone in `class_id` (a class of their org they manage).
    async fn may_enrol(&self, inviter: &AuthUser, class_id: Uuid) -> anyhow::Result<bool>;
    async fn enrol(&self, org_id: Uuid, user_id: Uuid, role: Role, class_id: Uuid) -> anyhow::Result<()>;
}

impl AuthService {
    /// Loads (or, on a first start, creates) the token signing key.
    pub fn new(backends: &Backends, billing: BillingService) -> anyhow::Result<Self> {
        let jwt = JwtKeys::load(&backends.config)?;
        let trusted_proxies = backends
            .config
            .server
            .trusted_proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| anyhow::anyhow!("server.trusted_proxies: {entry:?} is not an address or CIDR range"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let service = Self {
            backends: backends.clone(),
            jwt: Arc::new(jwt),
            trusted_proxies: Arc::new(trusted_proxies),
            user_data: Arc::default(),
            enrolment: Arc::default(),
            revocations: Arc::default(),
            billing,
        };
        service.follow_access_changes();
        service.audit_billing();
        Ok(service)
    }

    /// Registers a domain whose data of a person goes when the person is deleted.
    pub fn keeps_user_data(&self, owner: Arc<dyn UserData>) {
        if let Ok(mut owners) = self.user_data.write() {
            owners.push(owner);
        }
    }

    /// Registers the domain that enrols invitees in classes.
    pub fn enrols(&self, domain: Arc<dyn Enrolment>) {
        if let Ok(mut slot) = self.enrolment.write() {
            *slot = Some(domain);
        }
    }

    fn enrolment(&self) -> Option<Arc<dyn Enrolment>> {
        self.enrolment.read().ok().and_then(|slot| slot.clone())
    }

    /// Every registered domain erases the person's data; the first failure stops the deletion.
    async fn erase_user_data(&self, org_id: Uuid, user_id: Uuid) -> Result<(), AuthError> {
        let owners: Vec<Arc<dyn UserData>> = self.user_data.read().map(|o| o.clone()).unwrap_or_default();
        for owner in owners {
            owner.erase_user(org_id, user_id).await?;
        }
        Ok(())
    }

    fn settings(&self) -> &Settings {
        &self.backends.config
    }

    /// How long a refresh token lives (the refresh cookie lives as long).
    pub fn refresh_ttl_days(&self) -> i64 {
        self.settings().auth.refresh_token_ttl_days
    }

    /// The caller a bearer token names, with the API rate limits applied. `method` is what the caller wants to
    /// do: a `read` API key may only read.
    pub async fn authenticate(&self, token: &str, method: &Method) -> Result<AuthUser, AuthError> {
        let user = if token.starts_with(secrets::API_KEY_PREFIX) {
            self.api_key_caller(token, method).await?
        } else {
            let claims = self.jwt.verify(token).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::TokenExpired,
                _ => AuthError::InvalidToken,
            })?;
            if self.revocations.revoked(claims.sub, claims.iat_ms) {
                return Err(AuthError::TokenRevoked);
            }
            AuthUser {
                user_id: claims.sub,
                org_id: claims.org,
                role: claims.role,
                credential: Credential::Session { expires_at: claims.exp, issued_ms: claims.iat_ms },
            }
        };
        self.enforce_api_limits(&user).await?;
        Ok(user)
    }

    async fn api_key_caller(&self, token: &str, method: &Method) -> Result<AuthUser, AuthError> {
        let db = &self.backends.db;
        let key = store::live_api_key_by_hash(db, &secrets::digest(token)).await?.ok_or(AuthError::InvalidToken)?;
        let write = key.scope == "write";
        if !write && !matches!(*method, Method::GET | Method::HEAD) {
            return Err(AuthError::InsufficientScope);
        }
        // Recorded at most once a minute per key: a busy integration should not turn every read into a write.
        let now = Utc::now();
        if key.last_used_at.is_none_or(|t| now - t >= chrono::Duration::seconds(60))
            && let Err(err) = store::touch_api_key(db, &key, now).await
        {
            tracing::warn!(error = ?err, "could not record API key use");
        }
        Ok(AuthUser {
            user_id: key.created_by,
            org_id: key.org_id,
            role: Role::Teacher,
            credential: Credential::ApiKey { id: key.id, write },
        })
    }

    async fn enforce_api_limits(&self, user: &AuthUser) -> Result<(), AuthError> {
        let limits = &self.settings().ratelimit;
        let caller = match user.credential {
            Credential::Session { .. } => format!("api:user:{}", user.user_id),
            Credential::ApiKey { id, .. } => format!("api:key:{id}"),
        };
        for (key, limit) in [
            (caller, limits.api_per_user_per_minute),
            (format!("api:org:{}", user.org_id), limits.api_per_org_per_minute),
        ] {
            self.limit(&key, limit, Duration::from_secs(60)).await?;
        }
        Ok(())
    }

    async fn limit(&self, key: &str, limit: u32, window: Duration) -> Result<(), AuthError> {
        let decision = self.backends.rate_limiter.hit(key, limit, window).await?;
        if decision.allowed { Ok(()) } else { Err(AuthError::RateLimited(decision.reset_after.as_secs().max(1))) }
    }

    /// The per-IP limit shared by every unauthenticated auth route.
    async fn limit_ip(&self, ip: &ClientIp) -> Result<(), AuthError> {
        let limit = self.settings().ratelimit.auth_per_ip_per_minute;
        self.limit(&format!("auth:ip:{}", ip.0), limit, Duration::from_secs(60)).await
    }

    /// The address rate limits and the audit log use for this request (see [`crate::http::client_ip`]).
    pub fn client_ip(&self, req: &HttpRequest) -> ClientIp {
        ClientIp(crate::http::client_ip(req, &self.trusted_proxies).to_string())
    }

    /// Writes an audit entry. Its fields are bounded where they are built (an address is a parsed IP, details are
    /// built from bounded input), so it fits its columns on every database. A failure is not raised (the action it
    /// records has already happened) but never silent: it is logged as an error with the request id and counted
    /// in `bwenge_records_lost_total{kind="audit"}`, which an operator alerts on.
    pub async fn audit(&self, entry: Audit) {
        let action = entry.row.action;
        if let Err(err) = store::insert_audit(&self.backends.db, entry.row).await {
            self.backends.metrics.records_lost.with_label_values(&["audit"]).inc();
            tracing::error!(error = ?err, action, "could not write an audit entry");
        }
    }

    /// Plan changes and quota refusals are billing's to decide and the audit log's to keep: each is written on a
    /// task of its own (the bus's handlers must not wait).
    fn audit_billing(&self) {
        let auth = self.clone();
        self.backends.local_events.on::<BillingActivity>(move |event| {
            let (action, org_id, actor_id, target, details) = match event {
                BillingActivity::PlanChanged { org_id, actor_id, from, to, source } => {
                    let details = serde_json::json!({ "from": from, "to": to, "source": source });
                    ("plan.changed", *org_id, *actor_id, to.clone(), details)
                }
                BillingActivity::QuotaHit { org_id, user_id, quota, used, limit } => {
                    let details = serde_json::json!({ "quota": quota, "used": used, "limit": limit });
                    ("quota.refused", *org_id, *user_id, quota.clone(), details)
                }
            };
            let entry = Audit::system(org_id, actor_id, action).target("billing", target).details(details);
            let auth = auth.clone();
            tokio::spawn(async move { auth.audit(entry).await });
        });
    }

    /// A new access token and the next refresh token of `family` (a new family for a fresh sign-in).
    async fn issue_tokens(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        account: &user::Model,
        family: Option<Uuid>,
    ) -> Result<TokenResponse, AuthError> {
        let role =
            Role::parse(&account.role).ok_or_else(|| anyhow::anyhow!("user has unknown role {}", account.role))?;
        let access_token = self.jwt.issue(account.id, account.org_id, role)?;
        let refresh = secrets::generate("");
        let expires_at = Utc::now() + chrono::Duration::days(self.settings().auth.refresh_token_ttl_days);
        let family = family.unwrap_or_else(Uuid::now_v7);
        store::insert_refresh_token(conn, account, family, secrets::digest(&refresh), expires_at).await?;
        Ok(TokenResponse {
            access_token,
            refresh_token: Some(refresh),
            token_type: "Bearer",
            expires_in: self.jwt.ttl_secs(),
        })
    }
}

/// One audit entry, built from who acted, from where, on what.
#[derive(Debug)]
pub struct Audit {
    row: store::NewAuditRow,
}

impl Audit {
    /// An action by `caller` from `ip`, in the caller's org.
    pub fn by(caller: &AuthUser, ip: &ClientIp, action: &'static str) -> Self {
        Self::in_org(Some(caller.org_id), Some(caller.user_id), ip, action)
    }

    /// An action in `org_id` (`None`: no known org, e.g. a sign-in with an unknown email) by `actor_id`.
    pub fn in_org(org_id: Option<Uuid>, actor_id: Option<Uuid>, ip: &ClientIp, action: &'static str) -> Self {
        Self {
            row: store::NewAuditRow {
                org_id,
                actor_id,
                action,
                target_type: None,
                target_id: None,
                ip: Some(ip.0.clone()),
                details: serde_json::Value::Null,
            },
        }
    }

    /// An action the server took on its own in `org_id` (no request, so no address), on behalf of `actor_id` if
    /// anyone.
    pub fn system(org_id: Uuid, actor_id: Option<Uuid>, action: &'static str) -> Self {
        Self {
            row: store::NewAuditRow {
                org_id: Some(org_id),
                actor_id,
                action,
                target_type: None,
                target_id: None,
                ip: None,
                details: serde_json::Value::Null,
            },
        }
    }

    pub fn target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.row.target_type = Some(kind);
        self.row.target_id = Some(id.to_string());
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.row.details = details;
        self
    }
}

/// At most `max` characters, or a 422 naming the field: the first check on any input that is stored, logged, hashed
/// or used as a key.
pub(super) fn bounded<'a>(field: &str, value: &'a str, max: usize) -> Result<&'a str, AuthError> {
    if value.chars().count() > max {
        return Err(AuthError::Invalid(format!("{field} must be at most {max} characters")));
    }
    Ok(value)
}

/// At most `max` characters as sent (the schema's `maxLength`), not empty once trimmed; trimmed.
pub(super) fn require_text(field: &str, value: &str, max: usize) -> Result<String, AuthError> {
    let value = bounded(field, value, max)?.trim();
    if value.is_empty() {
        return Err(AuthError::Invalid(format!("{field} must not be empty")));
    }
    Ok(value.to_owned())
}

/// Lower-cased and trimmed; one `@` with text on both sides and a dot in the domain. Deliverability is the
/// invitation's job, not this check's.
pub(super) fn normalize_email(value: &str) -> Result<String, AuthError> {
    let email = value.trim().to_lowercase();
    let valid = email.len() <= super::views::EMAIL_MAX
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && email.matches('@').count() == 1;
    if valid { Ok(email) } else { Err(AuthError::Invalid("email is not a valid address".into())) }
}

/// Two sign-ups racing for one email: the loser's insert hits the unique index.
fn unique_as_email_taken(err: sea_orm::DbErr) -> AuthError {
    match err.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => AuthError::EmailTaken,
        _ => err.into(),
    }
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
