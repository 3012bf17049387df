//! Plans, billing and Stripe; see `[plans.*]`, `[billing]` and `[stripe]` in config/default.toml.

use secrecy::SecretString;
use serde::Deserialize;

/// What one plan allows; `-1` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct PlanLimits {
    pub personas: i64,
    pub messages_per_month: i64,
    pub storage_bytes: i64,
    pub seats: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PlansSettings {
    pub free: PlanLimits,
    pub basic: PlanLimits,
    pub pro: PlanLimits,
    pub enterprise: PlanLimits,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BillingSettings {
    pub default_plan: String,
    pub grace_days: u32,
    pub public_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeSettings {
    pub secret_key: SecretString,
    pub webhook_secret: SecretString,
    pub api_base: String,
    pub tolerance_secs: u64,
    pub prices: StripePrices,
}

/// The Stripe Price of each plan sold (empty: not for sale).
#[derive(Debug, Clone, Deserialize)]
pub struct StripePrices {
    pub basic: String,
    pub pro: String,
    pub enterprise: String,
}
