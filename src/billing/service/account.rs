//! An org's plan as its admin sees it: the plans, the subscription and usage against each limit, Checkout to
//! upgrade, the Portal to manage; and the operator's `bwenge plan set`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{BillingService, Quota};
use crate::auth::AuthUser;
use crate::billing::entities::subscription;
use crate::billing::error::BillingError;
use crate::billing::events::BillingActivity;
use crate::billing::plans::Plan;
use crate::billing::store;
use crate::billing::stripe::Checkout;
use crate::billing::views::{Limits, PlanView, SubscriptionView, UsageItem, UsageView};
use crate::config::PlanLimits;

/// The plan in force for an org.
#[derive(Debug, Clone, Copy)]
pub struct OrgPlan {
    pub plan: Plan,
    pub limits: PlanLimits,
    /// Free because a payment lapsed or the subscription ended.
    pub lapsed: bool,
}

fn at(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

impl BillingService {
    pub fn plans(&self) -> Vec<PlanView> {
        let config = &self.inner.backends.config;
        Plan::ALL
            .into_iter()
            .map(|plan| PlanView {
                plan,
                limits: Limits::from(plan.limits(config)),
                for_sale: self.inner.stripe.is_some() && plan.price(config).is_some(),
            })
            .collect()
    }

    pub async fn usage(&self, org_id: Uuid) -> Result<UsageView, BillingError> {
        let plan = self.plan_of(org_id).await?;
        let month = self.month(org_id).await?;
        let mut items = Vec::with_capacity(Quota::KINDS.len());
        for quota in Quota::KINDS {
            let period = if quota == Quota::Messages { month.as_str() } else { "" };
            let used = store::used_of(&self.inner.backends.db, org_id, quota.name(), period).await?;
            items.push(UsageItem { quota: quota.name().to_owned(), used, limit: quota.limit(&plan.limits) });
        }
        Ok(UsageView { month, items })
    }

    pub async fn subscription(&self, caller: &AuthUser) -> Result<SubscriptionView, BillingError> {
        let row = store::subscription(&self.inner.backends.db, caller.org_id).await?;
        let effective = self.effective(row.as_ref());
        let usage = self.usage(caller.org_id).await?;
        let subscribed_plan = row.as_ref().and_then(|r| Plan::parse(&r.plan)).unwrap_or(self.inner.default_plan);
        Ok(SubscriptionView {
            plan: effective.plan,
            subscribed_plan,
            status: row.as_ref().map_or_else(|| "active".to_owned(), |r| r.status.clone()),
            lapsed: effective.lapsed,
            current_period_end: at(row.as_ref().and_then(|r| r.current_period_end)),
            grace_until: at(row.as_ref().and_then(|r| r.grace_until)),
            has_customer: row.as_ref().is_some_and(|r| r.stripe_customer_id.is_some()),
            payments: self.inner.stripe.is_some(),
            usage,
        })
    }

    /// A Checkout Session for `plan`; `origin` is where the admin's browser is (used without `billing.public_url`).
    pub async fn checkout(&self, caller: &AuthUser, plan: &str, origin: &str) -> Result<String, BillingError> {
        let stripe = self.inner.stripe.as_ref().ok_or(BillingError::NotConfigured)?;
        let plan = Plan::parse(plan).ok_or_else(|| BillingError::UnknownPlan(plan.chars().take(40).collect()))?;
        let price = plan.price(&self.inner.backends.config).ok_or(BillingError::NotForSale(plan.as_str()))?;
        let row = store::subscription(&self.inner.backends.db, caller.org_id).await?;
        let base = self.public_url(origin);
        stripe
            .checkout(Checkout {
                org_id: caller.org_id,
                plan,
                price,
                customer: row.as_ref().and_then(|r| r.stripe_customer_id.as_deref()),
                success_url: format!("{base}/billing?checkout=done"),
                cancel_url: format!("{base}/billing?checkout=cancelled"),
            })
            .await
    }

    /// A Customer Portal session for the org's Stripe customer.
    pub async fn portal(&self, caller: &AuthUser, origin: &str) -> Result<String, BillingError> {
        let stripe = self.inner.stripe.as_ref().ok_or(BillingError::NotConfigured)?;
        let row = store::subscription(&self.inner.backends.db, caller.org_id).await?;
        let customer = row.and_then(|r| r.stripe_customer_id).ok_or(BillingError::NoCustomer)?;
        stripe.portal(&customer, format!("{}/billing", self.public_url(origin))).await
    }

    fn public_url(&self, origin: &str) -> String {
        let configured = self.inner.backends.config.billing.public_url.trim();
        let base = if configured.is_empty() { origin } else { configured };
        base.trim_end_matches('/').to_owned()
    }

    /// The operator sets an org's plan (no Stripe involved): it holds until changed again.
    pub async fn set_plan(&self, org_id: Uuid, plan: Plan) -> Result<Plan, BillingError> {
        let before = set_plan_offline(&self.inner.backends.db, &self.inner.backends.config, org_id, plan).await?;
        self.plan_changed(org_id, None, before, plan, "operator");
        Ok(before)
    }

    pub(super) fn plan_changed(&self, org_id: Uuid, actor_id: Option<Uuid>, from: Plan, to: Plan, source: &str) {
        if from != to {
            tracing::info!(%org_id, from = from.as_str(), to = to.as_str(), source, "plan changed");
            self.inner.backends.local_events.emit(&BillingActivity::PlanChanged {
                org_id,
                actor_id,
                from: from.as_str().to_owned(),
                to: to.as_str().to_owned(),
                source: source.to_owned(),
            });
        }
    }
}

/// A subscription row for an org that had none.
pub(super) fn blank(org_id: Uuid, plan: Plan) -> subscription::Model {
    subscription::Model {
        org_id,
        plan: plan.as_str().to_owned(),
        status: "active".into(),
        stripe_customer_id: None,
        stripe_subscription_id: None,
        current_period_end: None,
        grace_until: None,
        last_event_at: 0,
        updated_at: Utc::now(),
    }
}

/// [`BillingService::set_plan`] with only a database (`bwenge plan set`, which runs no server): the plan in force
/// before.
pub async fn set_plan_offline(
    db: &sea_orm::DatabaseConnection,
    settings: &crate::config::Settings,
    org_id: Uuid,
    plan: Plan,
) -> Result<Plan, BillingError> {
    let default_plan = Plan::parse(&settings.billing.default_plan).unwrap_or(Plan::Free);
    let row = store::subscription(db, org_id).await?;
    let before = super::effective_plan(settings, default_plan, row.as_ref()).plan;
    let mut next = row.unwrap_or_else(|| blank(org_id, plan));
    next.plan = plan.as_str().to_owned();
    next.status = "active".into();
    next.grace_until = None;
    store::save_subscription(db, next).await?;
    Ok(before)
}
