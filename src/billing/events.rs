//! What billing tells the rest of the application, in process: analytics records both, auth writes them to the
//! audit log. Billing does not know who listens.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BillingActivity {
    /// An org's plan changed: by Stripe (`stripe`), the operator (`operator`), or a lapsed payment (`grace_ended`).
    PlanChanged { org_id: Uuid, actor_id: Option<Uuid>, from: String, to: String, source: String },
    /// A plan's limit refused something.
    QuotaHit { org_id: Uuid, user_id: Option<Uuid>, quota: String, used: i64, limit: i64 },
}

impl crate::platform::events::Event for BillingActivity {
    const TOPIC: &'static str = "billing-activity";
}
