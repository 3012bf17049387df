//! The plans and what each allows, from `[plans.*]` in the configuration.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::{PlanLimits, Settings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Basic,
    Pro,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 4] = [Plan::Free, Plan::Basic, Plan::Pro, Plan::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Basic => "basic",
            Self::Pro => "pro",
            Self::Enterprise => "enterprise",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name.trim().to_ascii_lowercase())
    }

    pub fn limits(self, settings: &Settings) -> PlanLimits {
        let plans = &settings.plans;
        match self {
            Self::Free => plans.free,
            Self::Basic => plans.basic,
            Self::Pro => plans.pro,
            Self::Enterprise => plans.enterprise,
        }
    }

    /// The Stripe Price that sells this plan, if it is for sale.
    pub fn price(self, settings: &Settings) -> Option<&str> {
        let prices = &settings.stripe.prices;
        let price = match self {
            Self::Free => return None,
            Self::Basic => &prices.basic,
            Self::Pro => &prices.pro,
            Self::Enterprise => &prices.enterprise,
        };
        (!price.trim().is_empty()).then_some(price.trim())
    }

    /// The plan a Stripe Price sells.
    pub fn of_price(settings: &Settings, price: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|plan| plan.price(settings) == Some(price))
    }
}

/// A limit as configured: `-1` (any negative) is none.
pub fn unlimited(limit: i64) -> bool {
    limit < 0
}
