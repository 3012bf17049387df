//! Stripe's webhook: verified on the raw bytes, applied once per event id, and never over a newer event (Stripe
//! does not deliver in order: an older `customer.subscription.updated` arriving late must not undo a newer one).
//! Events are read as plain JSON, only the fields used, so a newer Stripe API version does not break them.

use chrono::Utc;
use sea_orm::TransactionTrait;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::BillingService;
use super::account::blank;
use crate::billing::entities::subscription;
use crate::billing::error::BillingError;
use crate::billing::plans::Plan;
use crate::billing::{signature, store};
use crate::config::{Settings, secret_opt};

#[derive(Debug, Deserialize)]
pub struct StripeEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: Value,
}

const HANDLED: [&str; 6] = [
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
];

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(value, |v, key| v.get(key)).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The org an event is about, as it says itself: our metadata, Checkout's `client_reference_id`, or an invoice's
/// subscription details.
fn org_in(object: &Value) -> Option<Uuid> {
    [
        &["metadata", "org_id"][..],
        &["client_reference_id"],
        &["subscription_details", "metadata", "org_id"],
        &["parent", "subscription_details", "metadata", "org_id"],
    ]
    .iter()
    .find_map(|path| text(object, path).and_then(|s| s.parse().ok()))
}

/// The plan a subscription object sells: its price, else our metadata.
fn plan_in(settings: &Settings, object: &Value) -> Option<Plan> {
    let from_price = object
        .pointer("/items/data/0/price/id")
        .and_then(Value::as_str)
        .and_then(|price| Plan::of_price(settings, price));
    from_price.or_else(|| text(object, &["metadata", "plan"]).and_then(Plan::parse))
}

fn period_end_ms(object: &Value) -> Option<i64> {
    // Older API versions put it on the subscription, newer ones on each item.
    object
        .get("current_period_end")
        .and_then(Value::as_i64)
        .or_else(|| object.pointer("/items/data/0/current_period_end").and_then(Value::as_i64))
        .map(|s| s.saturating_mul(1000))
}

/// `current` after `event`, at `now_ms`, with a failed payment's grace of `grace_ms`. Pure, so each event type is
/// tested without a server.
pub fn apply(
    settings: &Settings,
    mut row: subscription::Model,
    event: &StripeEvent,
    now_ms: i64,
) -> subscription::Model {
    let object = &event.data.object;
    let grace_ms = i64::from(settings.billing.grace_days) * 86_400_000;
    let customer = text(object, &["customer"]).map(str::to_owned);
    match event.kind.as_str() {
        "checkout.session.completed" => {
            row.stripe_customer_id = customer.or(row.stripe_customer_id);
            row.stripe_subscription_id =
                text(object, &["subscription"]).map(str::to_owned).or(row.stripe_subscription_id);
            if let Some(plan) = text(object, &["metadata", "plan"]).and_then(Plan::parse) {
                row.plan = plan.as_str().to_owned();
            }
            row.status = "active".into();
            row.grace_until = None;
        }
        "customer.subscription.created" | "customer.subscription.updated" => {
            row.stripe_customer_id = customer.or(row.stripe_customer_id);
            row.stripe_subscription_id = text(object, &["id"]).map(str::to_owned).or(row.stripe_subscription_id);
            if let Some(plan) = plan_in(settings, object) {
                row.plan = plan.as_str().to_owned();
            }
            let status = text(object, &["status"]).unwrap_or("active").to_owned();
            row.grace_until = match status.as_str() {
                "past_due" | "unpaid" => row.grace_until.or(Some(now_ms + grace_ms)),
                _ => None,
            };
            if matches!(status.as_str(), "canceled" | "incomplete_expired") {
                row.plan = Plan::Free.as_str().to_owned();
            }
            row.status = status;
            row.current_period_end = period_end_ms(object).or(row.current_period_end);
        }
        "customer.subscription.deleted" => {
            row.plan = Plan::Free.as_str().to_owned();
            row.status = "canceled".into();
            row.grace_until = None;
            row.current_period_end = None;
        }
        "invoice.paid" => {
            row.status = "active".into();
            row.grace_until = None;
        }
        "invoice.payment_failed" => {
            row.status = "past_due".into();
            row.grace_until = row.grace_until.or(Some(now_ms + grace_ms));
        }
        _ => return row,
    }
    row.last_event_at = event.created;
    row
}

impl BillingService {
    /// Verifies, records and applies one webhook delivery. An event this server does not act on is acknowledged
    /// (so Stripe stops retrying it); a failure to store is an error (so Stripe retries).
    pub async fn webhook(&self, signature_header: Option<&str>, body: &[u8]) -> Result<&'static str, BillingError> {
        let config = &self.inner.backends.config;
        let secret = secret_opt(&config.stripe.webhook_secret).ok_or(BillingError::NotConfigured)?;
        let header = signature_header.ok_or(BillingError::BadSignature)?;
        let now = Utc::now();
        signature::verify(header, body, secret, now.timestamp(), config.stripe.tolerance_secs).map_err(|reason| {
            tracing::warn!(%reason, "refused a Stripe webhook");
            BillingError::BadSignature
        })?;
        let event: StripeEvent = serde_json::from_slice(body).map_err(|_| BillingError::BadEvent)?;
        let db = &self.inner.backends.db;
        let mut org_id = org_in(&event.data.object);
        if org_id.is_none()
            && let Some(customer) = text(&event.data.object, &["customer"])
        {
            org_id = store::subscription_by_customer(db, customer).await?.map(|row| row.org_id);
        }
        let txn = db.begin().await?;
        if !store::first_delivery(&txn, &event.id, &event.kind, org_id).await? {
            return Ok("duplicate");
        }
        let (Some(org_id), true) = (org_id, HANDLED.contains(&event.kind.as_str())) else {
            txn.commit().await?;
            tracing::info!(id = %event.id, kind = %event.kind, "Stripe event acknowledged, not applied");
            return Ok("ignored");
        };
        let current = store::subscription(&txn, org_id).await?;
        if current.as_ref().is_some_and(|row| event.created < row.last_event_at) {
            txn.commit().await?;
            tracing::info!(id = %event.id, kind = %event.kind, "Stripe event older than the last applied");
            return Ok("stale");
        }
        let before = self.effective(current.as_ref()).plan;
        let row = current.unwrap_or_else(|| blank(org_id, self.inner.default_plan));
        let next = apply(config, row, &event, now.timestamp_millis());
        let after = self.effective(Some(&next)).plan;
        store::save_subscription(&txn, next).await?;
        txn.commit().await?;
        self.plan_changed(org_id, None, before, after, "stripe");
        Ok("applied")
    }
}
