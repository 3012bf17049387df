//! Plans and quotas. Every write path that creates something a plan limits reserves it here first
//! ([`BillingService::reserve`]) and gives it back when the thing goes ([`BillingService::release`]); billing
//! keeps the counters, so it never reads another domain's tables. A refusal is a `402 quota_exceeded` naming the
//! limit, the usage and the limit.

mod account;
mod webhook;

use std::sync::{Arc, RwLock};

use chrono::{Datelike, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use super::entities::subscription;
use super::error::BillingError;
use super::events::BillingActivity;
use super::plans::{Plan, unlimited};
use super::store;
use super::stripe::StripeGateway;
use crate::config::PlanLimits;
use crate::platform::Backends;

pub use account::{OrgPlan, set_plan_offline};

/// What a plan limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    Personas,
    /// One more message this month.
    Messages,
    /// `bytes` more of stored material.
    StorageBytes(u64),
    /// One more person in the organisation.
    Seats,
}

impl Quota {
    pub const KINDS: [Quota; 4] = [Quota::Personas, Quota::Messages, Quota::StorageBytes(0), Quota::Seats];

    pub fn name(&self) -> &'static str {
        match self {
            Self::Personas => "personas",
            Self::Messages => "messages_per_month",
            Self::StorageBytes(_) => "storage_bytes",
            Self::Seats => "seats",
        }
    }

    fn amount(&self) -> i64 {
        match self {
            Self::StorageBytes(bytes) => i64::try_from(*bytes).unwrap_or(i64::MAX),
            _ => 1,
        }
    }

    pub fn limit(&self, limits: &PlanLimits) -> i64 {
        match self {
            Self::Personas => limits.personas,
            Self::Messages => limits.messages_per_month,
            Self::StorageBytes(_) => limits.storage_bytes,
            Self::Seats => limits.seats,
        }
    }
}

/// Each org's time zone, which decides when its month of messages begins. Analytics owns it and registers it here.
#[async_trait::async_trait]
pub trait OrgCalendar: Send + Sync + 'static {
    async fn zone(&self, org_id: Uuid) -> anyhow::Result<Tz>;
}

/// Cheap to clone (one `Arc`): every domain that creates something a plan limits holds one.
#[derive(Clone)]
pub struct BillingService {
    inner: Arc<Inner>,
}

struct Inner {
    backends: Backends,
    stripe: Option<StripeGateway>,
    calendar: RwLock<Option<Arc<dyn OrgCalendar>>>,
    default_plan: Plan,
    default_zone: Tz,
}

impl BillingService {
    pub fn new(backends: &Backends) -> anyhow::Result<Self> {
        let config = &backends.config;
        let default_plan = Plan::parse(&config.billing.default_plan).ok_or_else(|| {
            anyhow::anyhow!(
                "billing.default_plan {:?} is not free, basic, pro or enterprise",
                config.billing.default_plan
            )
        })?;
        let inner = Inner {
            backends: backends.clone(),
            stripe: StripeGateway::from_settings(config)?,
            calendar: RwLock::default(),
            default_plan,
            default_zone: config.analytics.default_time_zone.parse().unwrap_or(chrono_tz::UTC),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Registers the source of each org's time zone.
    pub fn calendar_by(&self, calendar: Arc<dyn OrgCalendar>) {
        if let Ok(mut slot) = self.inner.calendar.write() {
            *slot = Some(calendar);
        }
    }

    /// The month (`YYYY-MM`) it is now in the org's time zone: the period of its message counter.
    async fn month(&self, org_id: Uuid) -> Result<String, BillingError> {
        let calendar = self.inner.calendar.read().ok().and_then(|slot| slot.clone());
        let zone = match calendar {
            Some(calendar) => calendar.zone(org_id).await?,
            None => self.inner.default_zone,
        };
        let today = Utc::now().with_timezone(&zone);
        Ok(format!("{:04}-{:02}", today.year(), today.month()))
    }

    async fn period(&self, org_id: Uuid, quota: Quota) -> Result<String, BillingError> {
        match quota {
            Quota::Messages => self.month(org_id).await,
            _ => Ok(String::new()),
        }
    }

    /// Takes one of `quota` (or its bytes) for `org_id`, or refuses with `QuotaExceeded` if the plan's limit would
    /// be passed. `user_id` is who asked, for the refusal's event.
    pub async fn reserve(&self, org_id: Uuid, user_id: Option<Uuid>, quota: Quota) -> Result<(), BillingError> {
        let plan = self.plan_of(org_id).await?;
        let limit = quota.limit(&plan.limits);
        let period = self.period(org_id, quota).await?;
        let db = &self.inner.backends.db;
        if store::try_add(db, org_id, quota.name(), &period, quota.amount(), limit).await? {
            return Ok(());
        }
        let used = store::used_of(db, org_id, quota.name(), &period).await?;
        Err(self.refused(org_id, user_id, quota, used, limit, plan.plan))
    }

    /// A refusal: said on the bus (the audit log and analytics record it), logged, and answered as a 402.
    fn refused(
        &self,
        org_id: Uuid,
        user_id: Option<Uuid>,
        quota: Quota,
        used: i64,
        limit: i64,
        plan: Plan,
    ) -> BillingError {
        let event = BillingActivity::QuotaHit { org_id, user_id, quota: quota.name().to_owned(), used, limit };
        self.inner.backends.local_events.emit(&event);
        tracing::info!(%org_id, quota = quota.name(), used, limit, "quota refused");
        BillingError::QuotaExceeded { quota, used, limit, plan }
    }

    /// Reserves up to `wanted` bytes of storage: all of them if the plan has room, else what is left. For an
    /// upload of unknown length, which is then streamed with the reservation as its limit.
    pub async fn reserve_storage_up_to(
        &self,
        org_id: Uuid,
        user_id: Option<Uuid>,
        wanted: u64,
    ) -> Result<u64, BillingError> {
        let plan = self.plan_of(org_id).await?;
        let limit = plan.limits.storage_bytes;
        let name = Quota::StorageBytes(0).name();
        let left = if unlimited(limit) {
            wanted
        } else {
            let used = store::used_of(&self.inner.backends.db, org_id, name, "").await?;
            wanted.min(u64::try_from(limit.saturating_sub(used)).unwrap_or(0))
        };
        let quota = Quota::StorageBytes(left.max(1));
        self.reserve(org_id, user_id, quota).await?;
        Ok(left.max(1))
    }

    /// Gives back what [`Self::reserve`] took (the thing was deleted, or its creation failed after the reservation).
    pub async fn release(&self, org_id: Uuid, quota: Quota) -> Result<(), BillingError> {
        let period = self.period(org_id, quota).await?;
        store::add(&self.inner.backends.db, org_id, quota.name(), &period, -quota.amount()).await?;
        Ok(())
    }

    /// Counts one of `quota` whatever the plan says (an org's first admin).
    pub async fn record(&self, org_id: Uuid, quota: Quota) -> Result<(), BillingError> {
        let period = self.period(org_id, quota).await?;
        store::add(&self.inner.backends.db, org_id, quota.name(), &period, quota.amount()).await?;
        Ok(())
    }

    /// [`Self::record`] for a standing quota (not messages), with only a database: `bwenge create-admin`.
    pub async fn record_standing(
        db: &sea_orm::DatabaseConnection,
        org_id: Uuid,
        quota: Quota,
    ) -> Result<(), BillingError> {
        debug_assert!(quota != Quota::Messages, "messages are counted per month, which needs the org's time zone");
        store::add(db, org_id, quota.name(), "", quota.amount()).await?;
        Ok(())
    }

    /// Refuses, as [`Self::reserve`] would, when one more of `quota` would pass the limit, without taking it (an
    /// invitation: the seat is taken when it is accepted).
    pub async fn ensure_room(&self, org_id: Uuid, user_id: Option<Uuid>, quota: Quota) -> Result<(), BillingError> {
        self.ensure(org_id, user_id, quota, quota.amount()).await
    }

    /// Refuses when the org already has more of `quota` than its plan allows: what is over the limit (after a
    /// downgrade) stays readable and deletable, but is not changed.
    pub async fn ensure_within(&self, org_id: Uuid, user_id: Option<Uuid>, quota: Quota) -> Result<(), BillingError> {
        self.ensure(org_id, user_id, quota, 0).await
    }

    async fn ensure(&self, org_id: Uuid, user_id: Option<Uuid>, quota: Quota, more: i64) -> Result<(), BillingError> {
        let plan = self.plan_of(org_id).await?;
        let limit = quota.limit(&plan.limits);
        if unlimited(limit) {
            return Ok(());
        }
        let period = self.period(org_id, quota).await?;
        let used = store::used_of(&self.inner.backends.db, org_id, quota.name(), &period).await?;
        if used.saturating_add(more) <= limit {
            return Ok(());
        }
        Err(self.refused(org_id, user_id, quota, used, limit, plan.plan))
    }

    /// The plan in force for `org_id`, and its limits: its subscription's, or the default; Free once a failed
    /// payment's grace period has run out or the subscription ended.
    pub async fn plan_of(&self, org_id: Uuid) -> Result<OrgPlan, BillingError> {
        let row = store::subscription(&self.inner.backends.db, org_id).await?;
        Ok(self.effective(row.as_ref()))
    }

    fn effective(&self, row: Option<&subscription::Model>) -> OrgPlan {
        effective_plan(&self.inner.backends.config, self.inner.default_plan, row)
    }
}

/// The plan in force given the subscription row (none: `default_plan`).
pub(crate) fn effective_plan(
    settings: &crate::config::Settings,
    default_plan: Plan,
    row: Option<&subscription::Model>,
) -> OrgPlan {
    let now = Utc::now().timestamp_millis();
    let (plan, lapsed) = match row {
        None => (default_plan, false),
        Some(row) => {
            let plan = Plan::parse(&row.plan).unwrap_or(default_plan);
            let lapsed = row.grace_until.is_some_and(|until| until <= now)
                || matches!(row.status.as_str(), "canceled" | "incomplete_expired");
            (plan, lapsed)
        }
    };
    let plan = if lapsed { Plan::Free } else { plan };
    OrgPlan { plan, limits: plan.limits(settings), lapsed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_a_402_that_names_the_limit() {
        let err = BillingError::QuotaExceeded { quota: Quota::Personas, used: 2, limit: 2, plan: Plan::Free };
        let api = err.api();
        assert_eq!((api.status.as_u16(), api.code), (402, "quota_exceeded"));
        assert!(api.message.contains("personas") && api.message.contains("2 of 2"), "{}", api.message);
        let details = api.details.map(|d| *d).unwrap_or_default();
        assert_eq!(
            (details["quota"].as_str(), details["used"].as_i64(), details["limit"].as_i64()),
            (Some("personas"), Some(2), Some(2))
        );
    }
}
