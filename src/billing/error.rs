use actix_web::http::StatusCode;
use serde_json::json;

use super::plans::Plan;
use super::service::Quota;
use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The org's plan does not allow one more of `quota`.
    #[error("the {} plan's limit on {} is reached ({used} of {limit}); an admin can upgrade the plan", .plan.as_str(), .quota.name())]
    QuotaExceeded { quota: Quota, used: i64, limit: i64, plan: Plan },
    #[error("unknown plan {0:?} (free, basic, pro or enterprise)")]
    UnknownPlan(String),
    #[error("the {0} plan is not sold through Stripe here")]
    NotForSale(&'static str),
    #[error("payments are not configured on this server: the operator sets plans")]
    NotConfigured,
    #[error("this organisation has no Stripe customer yet: choose a plan first")]
    NoCustomer,
    #[error("the webhook's signature is missing or does not match")]
    BadSignature,
    #[error("the webhook's body is not a Stripe event")]
    BadEvent,
    #[error("the payment provider did not answer as expected; try again")]
    Provider(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl BillingError {
    pub fn api(&self) -> ApiError {
        let (status, code) = match self {
            Self::QuotaExceeded { quota, used, limit, plan } => {
                let details = json!({ "quota": quota.name(), "used": used, "limit": limit, "plan": plan });
                return ApiError::new(StatusCode::PAYMENT_REQUIRED, "quota_exceeded", self.to_string())
                    .with_details(details);
            }
            Self::UnknownPlan(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_plan"),
            Self::NotForSale(_) => (StatusCode::UNPROCESSABLE_ENTITY, "plan_not_for_sale"),
            Self::NotConfigured => (StatusCode::CONFLICT, "billing_not_configured"),
            Self::NoCustomer => (StatusCode::CONFLICT, "no_customer"),
            Self::BadSignature => (StatusCode::BAD_REQUEST, "invalid_signature"),
            Self::BadEvent => (StatusCode::BAD_REQUEST, "invalid_event"),
            Self::Provider(cause) => {
                tracing::error!(%cause, "Stripe request failed");
                (StatusCode::BAD_GATEWAY, "payment_provider_error")
            }
            Self::Unexpected(cause) => return ApiError::internal(cause),
        };
        ApiError::new(status, code, self.to_string())
    }
}

crate::error::domain_error!(BillingError);
