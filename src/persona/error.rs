use actix_web::http::StatusCode;
use uuid::Uuid;

use crate::error::ApiError;

/// Each validation failure has its own stable code, so a form can point at the field without parsing text.
#[derive(Debug, thiserror::Error)]
pub enum PersonaError {
    #[error("persona not found")]
    NotFound,
    #[error("{0} must not be empty")]
    Required(&'static str),
    #[error("{field} must be at most {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} must be {allowed}")]
    OutOfRange { field: &'static str, allowed: &'static str },
    #[error("collection_ids names collections this organisation does not have: {}", list(.0))]
    UnknownCollections(Vec<Uuid>),
    #[error("avatar_id {0} is not an avatar of this organisation")]
    UnknownAvatar(Uuid),
    #[error(transparent)]
    Quota(#[from] crate::billing::BillingError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

fn list(ids: &[Uuid]) -> String {
    ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", ")
}

impl From<crate::ingest::IngestError> for PersonaError {
    fn from(err: crate::ingest::IngestError) -> Self {
        Self::Unexpected(anyhow::Error::new(err).context("asking the knowledge domain about collections"))
    }
}

impl PersonaError {
    fn api(&self) -> ApiError {
        let code = match self {
            Self::NotFound => return ApiError::not_found("persona"),
            Self::Required(_) => "field_required",
            Self::TooLong { .. } => "field_too_long",
            Self::OutOfRange { .. } => "out_of_range",
            Self::UnknownCollections(_) => "unknown_collection",
            Self::UnknownAvatar(_) => "unknown_avatar",
            Self::Quota(err) => return err.api(),
            Self::Unexpected(cause) => return ApiError::internal(cause),
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, self.to_string())
    }
}

crate::error::domain_error!(PersonaError);
