//! Per-org API keys for SDKs and server-to-server calls (created by admins, shown once, stored hashed, scoped
//! `read` or `write`, revocable), and the org's audit log.

use uuid::Uuid;

use super::{Audit, AuthService, bounded, require_text};
use crate::auth::error::AuthError;
use crate::auth::extractors::{AuthUser, ClientIp, Credential};
use crate::auth::secrets;
use crate::auth::store::{self, NewApiKey};
use crate::auth::views::{ApiKeyCreated, ApiKeyView, AuditEntry, AuditFilter, CreateApiKey, NAME_MAX, QUERY_MAX};
use crate::pagination::{Page, PageQuery};

/// Keys never manage keys: a leaked key must not be able to mint or hide others.
fn require_session(credential: Credential) -> Result<(), AuthError> {
    match credential {
        Credential::Session { .. } => Ok(()),
        Credential::ApiKey { .. } => Err(AuthError::Forbidden("API keys cannot manage API keys".into())),
    }
}

impl AuthService {
    pub async fn create_api_key(
        &self,
        caller: &AuthUser,
        ip: &ClientIp,
        body: CreateApiKey,
    ) -> Result<ApiKeyCreated, AuthError> {
        require_session(caller.credential)?;
        let name = require_text("name", &body.name, NAME_MAX)?;
        let secret = secrets::generate(secrets::API_KEY_PREFIX);
        let scope = body.scope.as_str();
        let new = NewApiKey {
            org_id: caller.org_id,
            name,
            prefix: secret.chars().take(12).collect(),
            key_hash: secrets::digest(&secret),
            scope,
            created_by: caller.user_id,
        };
        let row = store::insert_api_key(&self.backends.db, new).await?;
        let details = serde_json::json!({ "scope": scope });
        self.audit(Audit::by(caller, ip, "api_key.created").target("api_key", row.id).details(details)).await;
        Ok(ApiKeyCreated { key: row.into(), secret })
    }

    pub async fn list_api_keys(&self, caller: &AuthUser) -> Result<Vec<ApiKeyView>, AuthError> {
        Ok(store::live_api_keys(&self.backends.db, caller.org_id).await?)
    }

    pub async fn revoke_api_key(&self, caller: &AuthUser, ip: &ClientIp, id: Uuid) -> Result<(), AuthError> {
        require_session(caller.credential)?;
        if !store::revoke_api_key(&self.backends.db, caller.org_id, id).await? {
            return Err(AuthError::NotFound("API key"));
        }
        self.access_changed(None, Some(id)).await;
        self.audit(Audit::by(caller, ip, "api_key.revoked").target("api_key", id)).await;
        Ok(())
    }

    pub async fn audit_log(
        &self,
        caller: &AuthUser,
        filter: &AuditFilter,
        page: &PageQuery,
    ) -> Result<Page<AuditEntry>, AuthError> {
        if let Some(action) = &filter.action {
            bounded("action", action, QUERY_MAX)?;
        }
        Ok(store::audit_page(&self.backends.db, caller.org_id, filter, page).await?)
    }
}
