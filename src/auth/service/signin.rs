//! Sign-up, sign-in, token refresh with rotation and reuse detection, sign-out, and `me`.
//!
//! Refresh tokens form families: each use marks the presented token used and hands out its successor. A used
//! token coming back means it was copied (RFC 9700 §4.14): the whole family is revoked, so both the thief and the
//! victim must sign in again, and the event goes in the audit log.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, TransactionTrait};
use uuid::Uuid;

use super::{Audit, AuthService, bounded, normalize_email, require_text, unique_as_email_taken};
use crate::auth::entities::user;
use crate::auth::error::AuthError;
use crate::auth::extractors::{AuthUser, ClientIp, Credential};
use crate::auth::store::{self, NewUser, Tokens};
use crate::auth::views::{
    EMAIL_MAX, LoginRequest, Me, NAME_MAX, OrgView, RegisterRequest, Role, ServerStatus, SignedIn, TOKEN_MAX,
    TokenResponse, UserView,
};
use crate::auth::{password, secrets};
use crate::billing::{BillingService, Quota};
use crate::config::Registration;

impl AuthService {
    /// Creates an organisation and its first admin, and signs the admin in.
    pub async fn register(&self, body: RegisterRequest, ip: &ClientIp) -> Result<TokenResponse, AuthError> {
        match self.settings().auth.registration {
            Registration::Open => {}
            Registration::InviteOnly if !store::any_org(&self.backends.db).await? => {}
            Registration::InviteOnly | Registration::Closed => return Err(AuthError::RegistrationClosed),
        }
        self.limit_ip(ip).await?;
        let per_hour = self.settings().ratelimit.register_per_ip_per_hour;
        self.limit(&format!("auth:register:ip:{}", ip.0), per_hour, Duration::from_secs(3600)).await?;
        let admin = create_org_admin(&self.backends.db, body).await?;
        self.billing.record(admin.org_id, Quota::Seats).await?;
        let entry = Audit::in_org(Some(admin.org_id), Some(admin.id), ip, "org.registered").target("org", admin.org_id);
        self.audit(entry).await;
        self.issue_tokens(&self.backends.db, &admin, None).await
    }

    pub async fn login(&self, body: LoginRequest, ip: &ClientIp) -> Result<TokenResponse, AuthError> {
        // Bounded before anything else: the email becomes a rate-limit key and goes in the audit log, the password
        // through argon2.
        bounded("email", &body.email, EMAIL_MAX)?;
        bounded("password", &body.password, password::MAX_LENGTH)?;
        self.limit_ip(ip).await?;
        let email = body.email.trim().to_lowercase();
        // Failed attempts are counted per account, so guessing from many IPs hits this wall too; once it is
        // reached even the right password waits out the window. Every attempt is counted before the password is
        // checked (so concurrent guesses cannot all slip past the count), and one that succeeds is taken back.
        let failures_key = format!("auth:login-failures:{email}");
        let per_account = self.settings().ratelimit.login_per_account_per_15min;
        let limiter = &self.backends.rate_limiter;
        let counted = limiter.hit(&failures_key, per_account, Duration::from_secs(15 * 60)).await?;
        if !counted.allowed {
            return Err(AuthError::RateLimited(counted.reset_after.as_secs().max(1)));
        }
        let db = &self.backends.db;
        let found = store::user_by_email(db, &email).await?;
        let stored = found.as_ref().map_or_else(|| password::decoy_hash().to_owned(), |u| u.password_hash.clone());
        if !password::verify(body.password, stored).await? {
            // A known account's org sees the attempt in its log; an unknown email is logged with no org.
            let mut entry = Audit::in_org(found.as_ref().map(|u| u.org_id), None, ip, "login.failed")
                .details(serde_json::json!({ "email": email }));
            if let Some(account) = &found {
                entry = entry.target("user", account.id);
            }
            self.audit(entry).await;
            return Err(AuthError::InvalidCredentials);
        }
        limiter.undo(&failures_key).await?;
        let Some(account) = found else { return Err(AuthError::InvalidCredentials) };
        if !account.active {
            return Err(AuthError::AccountDisabled);
        }
        store::touch_login(db, &account).await?;
        self.audit(Audit::in_org(Some(account.org_id), Some(account.id), ip, "login.succeeded")).await;
        self.backends.local_events.emit(&SignedIn { org_id: account.org_id, user_id: account.id });
        self.issue_tokens(&self.backends.db, &account, None).await
    }

    pub async fn refresh(&self, token: &str, ip: &ClientIp) -> Result<TokenResponse, AuthError> {
        bounded("refresh_token", token, TOKEN_MAX)?;
        self.limit_ip(ip).await?;
        let db = &self.backends.db;
        let presented = store::refresh_token_by_hash(db, &secrets::digest(token.trim()))
            .await?
            .ok_or(AuthError::InvalidRefreshToken)?;
        if presented.revoked_at.is_some() {
            return Err(AuthError::InvalidRefreshToken);
        }
        // The claim and the successor are one transaction, and the claim (a write, so it holds the row from the
        // start) refuses a revoked token: a sign-out racing this refresh either revokes the token before the claim,
        // or waits for the commit and then revokes the successor too (see `store::revoke_refresh_tokens`).
        let txn = db.begin().await?;
        if !store::claim_refresh_token(&txn, presented.id).await? {
            txn.rollback().await?;
            let now = store::refresh_token_by_hash(db, &presented.token_hash).await?;
            if now.is_none_or(|t| t.revoked_at.is_some()) {
                return Err(AuthError::InvalidRefreshToken);
            }
            store::revoke_refresh_tokens(db, Tokens::Family(presented.family_id)).await?;
            let entry = Audit::in_org(Some(presented.org_id), Some(presented.user_id), ip, "token.reuse_detected")
                .target("refresh_token_family", presented.family_id);
            self.audit(entry).await;
            return Err(AuthError::RefreshTokenReused);
        }
        if presented.expires_at < Utc::now() {
            txn.commit().await?;
            return Err(AuthError::RefreshTokenExpired);
        }
        let Some(account) = store::user_by_id(&txn, presented.user_id).await?.filter(|u| u.active) else {
            store::revoke_refresh_tokens(&txn, Tokens::Family(presented.family_id)).await?;
            txn.commit().await?;
            return Err(AuthError::AccountDisabled);
        };
        let tokens = self.issue_tokens(&txn, &account, Some(presented.family_id)).await?;
        txn.commit().await?;
        Ok(tokens)
    }

    /// Ends `refresh_token`'s family (one device), or without it every session of the caller, whose access tokens
    /// then stop working too. A key has no session to end: it is refused rather than signing its creator out.
    pub async fn logout(&self, caller: &AuthUser, refresh_token: Option<&str>) -> Result<(), AuthError> {
        if matches!(caller.credential, Credential::ApiKey { .. }) {
            return Err(AuthError::Forbidden(
                "an API key has no session to sign out of; revoke the key instead".into(),
            ));
        }
        if let Some(token) = refresh_token {
            bounded("refresh_token", token, TOKEN_MAX)?;
        }
        let db = &self.backends.db;
        let which = match refresh_token {
            None => Tokens::User(caller.user_id),
            Some(token) => match store::refresh_token_by_hash(db, &secrets::digest(token.trim())).await? {
                Some(found) if found.user_id == caller.user_id => {
                    Tokens::UserFamily { user_id: caller.user_id, family_id: found.family_id }
                }
                _ => return Ok(()),
            },
        };
        store::revoke_refresh_tokens(db, which).await?;
        if matches!(which, Tokens::User(_)) {
            self.access_changed(Some(caller.user_id), None).await;
        }
        Ok(())
    }

    /// How people join this server: its registration mode, and whether it has no organisation yet.
    pub async fn status(&self) -> Result<ServerStatus, AuthError> {
        let first_run = !store::any_org(&self.backends.db).await?;
        Ok(ServerStatus { registration: self.settings().auth.registration, first_run })
    }

    /// The caller and their organisation.
    pub async fn me(&self, caller: &AuthUser) -> Result<Me, AuthError> {
        let db = &self.backends.db;
        let org = store::org(db, caller.org_id).await?.ok_or(AuthError::InvalidToken)?;
        let user = match caller.credential {
            Credential::Session { .. } => Some(
                store::user_in_org(db, caller.org_id, caller.user_id)
                    .await?
                    .map(UserView::from)
                    .ok_or(AuthError::InvalidToken)?,
            ),
            Credential::ApiKey { .. } => None,
        };
        let mut org = OrgView::from(org);
        org.plan = self.billing.plan_of(caller.org_id).await?.plan.as_str().to_owned();
        Ok(Me { user, org, role: caller.role })
    }
}

/// A new organisation and its first admin, checked like a sign-up. `bwenge create-admin` calls this directly (an
/// operator creates organisations whatever `auth.registration` says), with only a database.
pub async fn bootstrap_org(db: &DatabaseConnection, body: RegisterRequest) -> Result<(Uuid, Uuid), AuthError> {
    let admin = create_org_admin(db, body).await?;
    BillingService::record_standing(db, admin.org_id, Quota::Seats).await?;
    let audit = store::NewAuditRow {
        org_id: Some(admin.org_id),
        actor_id: Some(admin.id),
        action: "org.registered",
        target_type: Some("org"),
        target_id: Some(admin.org_id.to_string()),
        ip: None,
        details: serde_json::json!({ "by": "bwenge create-admin" }),
    };
    store::insert_audit(db, audit).await?;
    Ok((admin.org_id, admin.id))
}

/// The organisation's name, if it exists: for operator commands that name one by id, with only a database.
pub async fn org_name(db: &DatabaseConnection, org_id: Uuid) -> Result<Option<String>, AuthError> {
    Ok(store::org(db, org_id).await?.map(|org| org.name))
}

/// Writes an audit entry for an operator command (no server runs, so no request and no bus).
pub async fn audit_offline(db: &DatabaseConnection, entry: super::Audit) -> Result<(), AuthError> {
    store::insert_audit(db, entry.row).await?;
    Ok(())
}

async fn create_org_admin(db: &DatabaseConnection, body: RegisterRequest) -> Result<user::Model, AuthError> {
    let org_name = require_text("org_name", &body.org_name, NAME_MAX)?;
    let name = require_text("name", &body.name, NAME_MAX)?;
    let email = normalize_email(&body.email)?;
    password::check_policy(&body.password, &[&email, &name, &org_name]).map_err(AuthError::WeakPassword)?;
    if store::user_by_email(db, &email).await?.is_some() {
        return Err(AuthError::EmailTaken);
    }
    let password_hash = password::hash(body.password).await?;
    let now = Utc::now();
    let org_id = Uuid::now_v7();
    let txn = db.begin().await?;
    store::insert_org(&txn, org_id, org_name, now).await?;
    let admin = store::insert_user(&txn, NewUser { org_id, email, name, password_hash, role: Role::Admin }, now)
        .await
        .map_err(unique_as_email_taken)?;
    txn.commit().await?;
    Ok(admin)
}
