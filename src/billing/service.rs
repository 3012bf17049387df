//! The quota seam. Every write path that creates something a plan limits asks [`BillingService::check`] first;
//! until plans are enforced, everything is allowed, so the call sites and their error paths exist and are tested
//! before the limits do.

use uuid::Uuid;

use super::error::BillingError;

/// What a plan limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    Personas,
    /// One more student message this month.
    Messages,
    /// `bytes` more of stored material.
    StorageBytes(u64),
    /// One more person in the organisation.
    Seats,
}

impl Quota {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Personas => "personas",
            Self::Messages => "messages_per_month",
            Self::StorageBytes(_) => "storage_bytes",
            Self::Seats => "seats",
        }
    }
}

/// Holds nothing yet: plans, usage counters and the Stripe client come with the billing issue.
#[derive(Clone, Default)]
pub struct BillingService;

impl BillingService {
    /// Whether `org_id` may have one more of `quota`. `Err(QuotaExceeded)` answers 402 with the limit named.
    pub async fn check(&self, _org_id: Uuid, _quota: Quota) -> Result<(), BillingError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_quota_is_allowed_until_plans_are_enforced() {
        let billing = BillingService;
        for quota in [Quota::Personas, Quota::Messages, Quota::StorageBytes(u64::MAX), Quota::Seats] {
            assert!(billing.check(Uuid::new_v4(), quota).await.is_ok(), "{}", quota.name());
        }
    }

    #[test]
    fn a_refusal_is_a_402_that_names_the_limit() {
        let err = BillingError::QuotaExceeded { quota: Quota::Personas, used: 2, limit: 2 };
        let api = err.api();
        assert_eq!((api.status.as_u16(), api.code), (402, "quota_exceeded"));
        assert!(api.message.contains("personas") && api.message.contains("2 of 2"), "{}", api.message);
    }
}
