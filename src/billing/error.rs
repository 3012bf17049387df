use actix_web::http::StatusCode;

use super::service::Quota;
use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The org's plan does not allow one more of `quota`.
    #[error("the plan's limit on {} is reached ({used} of {limit})", .quota.name())]
    QuotaExceeded { quota: Quota, used: i64, limit: i64 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl BillingError {
    pub fn api(&self) -> ApiError {
        match self {
            Self::QuotaExceeded { .. } => {
                ApiError::new(StatusCode::PAYMENT_REQUIRED, "quota_exceeded", self.to_string())
            }
            Self::Unexpected(cause) => ApiError::internal(cause),
        }
    }
}

crate::error::domain_error!(BillingError);
