//! The auth domain's events (see `platform::events`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::platform::events::Event;

/// Someone's access changed (a role, a deactivation, a deletion, a sign-out everywhere; or an API key revoked):
/// every replica refuses their older access tokens from now on, and closes or narrows their live sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessChanged {
    pub user_id: Option<Uuid>,
    pub key_id: Option<Uuid>,
    /// Unix milliseconds: access tokens issued before this are refused.
    pub at_ms: i64,
}

impl Event for AccessChanged {
    const TOPIC: &'static str = "auth-access";
}

/// Someone signed in with their password (in this process; analytics counts it once, see `platform::events`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SignedIn {
    pub org_id: Uuid,
    pub user_id: Uuid,
}

impl Event for SignedIn {
    const TOPIC: &'static str = "auth-signed-in";
}
