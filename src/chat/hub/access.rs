//! Sockets whose access changes while they are open. Every connection registers its credential; when auth says a
//! person's access changed (a role, a deactivation, a deletion) or a key was revoked, on any replica, the
//! connections concerned are told to check their credential again (and narrow or close themselves).

use std::sync::Arc;

use tokio::sync::Notify;
use uuid::Uuid;

use super::ChatHub;
use crate::auth::views::AccessChanged;

pub(super) struct Credentialed {
    user_id: Uuid,
    key_id: Option<Uuid>,
    recheck: Arc<Notify>,
}

impl ChatHub {
    /// `recheck` is notified whenever the access of `user_id` (or of key `key_id`) changes.
    pub fn watch_access(&self, connection: Uuid, user_id: Uuid, key_id: Option<Uuid>, recheck: Arc<Notify>) {
        if let Ok(mut access) = self.access.lock() {
            access.insert(connection, Credentialed { user_id, key_id, recheck });
        }
    }

    pub fn unwatch_access(&self, connection: Uuid) {
        if let Ok(mut access) = self.access.lock() {
            access.remove(&connection);
        }
    }

    /// Tells this replica's connections the change concerns. A key's change concerns only the key's
    /// connections (its creator's own sessions carry on).
    pub fn access_changed(&self, change: &AccessChanged) {
        let Ok(access) = self.access.lock() else { return };
        for credential in access.values() {
            let concerned = match (change.key_id, credential.key_id) {
                (Some(changed), held) => held == Some(changed),
                (None, Some(_)) => false,
                (None, None) => change.user_id == Some(credential.user_id),
            };
            if concerned {
                credential.recheck.notify_one();
            }
        }
    }
}
