use actix_web::http::StatusCode;

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error("the upload is larger than the {0}-byte limit")]
    TooLarge(u64),
    #[error("{0}")]
    Unsupported(String),
    #[error("the file is empty")]
    Empty,
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Quota(#[from] crate::billing::BillingError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl IngestError {
    fn api(&self) -> ApiError {
        let (status, code) = match self {
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Unsupported(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type"),
            Self::Empty => (StatusCode::UNPROCESSABLE_ENTITY, "empty_file"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Quota(err) => return err.api(),
            Self::Unexpected(cause) => return ApiError::internal(cause),
        };
        ApiError::new(status, code, self.to_string())
    }
}

crate::error::domain_error!(IngestError);
