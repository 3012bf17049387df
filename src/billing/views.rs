//! What the billing API reads and answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::plans::Plan;

/// A plan's limits; `-1` is unlimited.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Limits {
    pub personas: i64,
    pub messages_per_month: i64,
    pub storage_bytes: i64,
    pub seats: i64,
}

impl From<crate::config::PlanLimits> for Limits {
    fn from(l: crate::config::PlanLimits) -> Self {
        Self {
            personas: l.personas,
            messages_per_month: l.messages_per_month,
            storage_bytes: l.storage_bytes,
            seats: l.seats,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanView {
    pub plan: Plan,
    pub limits: Limits,
    /// Whether it can be bought through Checkout here (Stripe configured and a price set for it).
    pub for_sale: bool,
}

/// One limit: how much of it the org uses.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageItem {
    /// `personas`, `messages_per_month`, `storage_bytes` or `seats`.
    pub quota: String,
    pub used: i64,
    /// `-1`: unlimited.
    pub limit: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageView {
    /// The month messages are counted in (`YYYY-MM`, the org's time zone).
    pub month: String,
    pub items: Vec<UsageItem>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// The plan in force (Free while a lapsed subscription is not paid).
    pub plan: Plan,
    /// The plan subscribed to, which differs from `plan` when a payment lapsed.
    pub subscribed_plan: Plan,
    /// Stripe's status (`active`, `past_due`, `canceled`…), or `active` for a plan set by the operator.
    pub status: String,
    /// A failed payment's grace period ran out: the org is on Free, its data kept.
    pub lapsed: bool,
    pub current_period_end: Option<DateTime<Utc>>,
    /// After a failed payment: when the plan falls back to Free.
    pub grace_until: Option<DateTime<Utc>>,
    /// Whether Stripe manages it (the Portal can change or cancel it).
    pub has_customer: bool,
    /// Whether this server takes payments (Checkout can be opened).
    pub payments: bool,
    pub usage: UsageView,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CheckoutRequest {
    /// `basic`, `pro` or `enterprise`.
    #[schema(example = "pro", max_length = 16)]
    pub plan: String,
}

/// Where to send the browser.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RedirectView {
    pub url: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookReceipt {
    /// `applied`, `duplicate` (already applied), `stale` (older than what was applied), or `ignored` (a type or an
    /// org this server does not act on).
    pub outcome: &'static str,
}
