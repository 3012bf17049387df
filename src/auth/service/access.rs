//! Access that changes while a token or a socket is live. A role change, a deactivation, a deletion or a sign-out
//! everywhere makes the person's older access tokens useless at once (not when they expire), and an API key's
//! revocation closes the sockets it opened. The change is an [`AccessChanged`] event on the pub/sub: every replica
//! (this one included, without waiting for the bus) records when it happened, and the chat domain narrows or
//! closes the sockets it concerns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use uuid::Uuid;

use super::AuthService;
use crate::auth::error::AuthError;
use crate::auth::extractors::{AuthUser, Credential};
use crate::auth::store;
use crate::auth::views::{AccessChanged, Role};
use crate::platform::events;

/// When each person's access last changed (Unix ms), for as long as a token issued before it could still be live.
#[derive(Default)]
pub(super) struct Revocations {
    users: Mutex<HashMap<Uuid, i64>>,
}

impl Revocations {
    fn record(&self, change: &AccessChanged, keep_ms: i64) {
        let Some(user) = change.user_id else { return };
        if let Ok(mut users) = self.users.lock() {
            let entry = users.entry(user).or_insert(change.at_ms);
            *entry = (*entry).max(change.at_ms);
            // Nothing issued longer ago than a token lives needs remembering.
            let horizon = change.at_ms.saturating_sub(keep_ms);
            users.retain(|_, at| *at >= horizon);
        }
    }

    /// Whether a token of `user` issued at `issued_ms` predates a change of their access.
    pub(super) fn revoked(&self, user: Uuid, issued_ms: i64) -> bool {
        self.users.lock().ok().and_then(|users| users.get(&user).copied()).is_some_and(|at| issued_ms < at)
    }
}

impl AuthService {
    /// Records a change of `user_id`'s (or `key_id`'s) access here at once, and tells every replica.
    pub(super) async fn access_changed(&self, user_id: Option<Uuid>, key_id: Option<Uuid>) {
        let change = AccessChanged { user_id, key_id, at_ms: chrono::Utc::now().timestamp_millis() };
        self.revocations.record(&change, self.token_lifetime_ms());
        events::publish(self.backends.pubsub.as_ref(), &change).await;
    }

    fn token_lifetime_ms(&self) -> i64 {
        self.backends.config.auth.access_token_ttl_secs.saturating_mul(1000).saturating_add(60_000)
    }

    /// Follows the other replicas' changes for as long as the service lives; resubscribes after a lost
    /// subscription (a Redis restart).
    pub(super) fn follow_access_changes(&self) {
        let revocations = Arc::downgrade(&self.revocations);
        let pubsub = self.backends.pubsub.clone();
        let keep_ms = self.token_lifetime_ms();
        tokio::spawn(async move {
            loop {
                match events::subscribe::<AccessChanged>(pubsub.as_ref()).await {
                    Ok(mut changes) => {
                        while let Some(change) = changes.next().await {
                            let Some(revocations) = revocations.upgrade() else { return };
                            revocations.record(&change, keep_ms);
                        }
                    }
                    Err(err) => tracing::warn!(error = ?err, "subscribing to access changes; retrying"),
                }
                if revocations.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// Every access change from now on, on every replica (the chat sockets close on them). A subscriber that acts
    /// on one calls [`Self::observe`] first, so its own checks see the change whatever the order of delivery.
    pub async fn access_changes(&self) -> anyhow::Result<BoxStream<'static, AccessChanged>> {
        events::subscribe::<AccessChanged>(self.backends.pubsub.as_ref()).await
    }

    /// Records a change another replica announced (idempotent).
    pub fn observe(&self, change: &AccessChanged) {
        self.revocations.record(change, self.token_lifetime_ms());
    }

    /// The caller as they stand now: a person's current role (an error if they were deactivated or deleted, or
    /// their access changed after their token was issued), or a key that is still live. For connections that
    /// outlive a request.
    pub async fn revalidate(&self, caller: &AuthUser) -> Result<AuthUser, AuthError> {
        let db = &self.backends.db;
        match caller.credential {
            Credential::ApiKey { id, .. } => {
                if store::api_key_is_live(db, caller.org_id, id).await? {
                    Ok(*caller)
                } else {
                    Err(AuthError::KeyRevoked)
                }
            }
            Credential::Session { issued_ms, .. } => {
                if self.revocations.revoked(caller.user_id, issued_ms) {
                    return Err(AuthError::TokenRevoked);
                }
                let account = store::user_in_org(db, caller.org_id, caller.user_id).await?;
                let Some(account) = account.filter(|u| u.active) else { return Err(AuthError::TokenRevoked) };
                let role = Role::parse(&account.role)
                    .ok_or_else(|| anyhow::anyhow!("user {} has an unknown role {}", account.id, account.role))?;
                Ok(AuthUser { role, ..*caller })
            }
        }
    }

    /// Counts one unit of work against the caller's per-user and per-org API limits (a WebSocket frame).
    pub async fn charge(&self, caller: &AuthUser) -> Result<(), AuthError> {
        self.enforce_api_limits(caller).await
    }
}
