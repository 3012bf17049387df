use actix_web::http::StatusCode;
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ClassError {
    #[error("class not found")]
    NotFound,
    #[error("{0} must not be empty")]
    Required(&'static str),
    #[error("{field} must be at most {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("these are not people of this organisation: {}", list(.0))]
    UnknownUsers(Vec<Uuid>),
    #[error("{0}")]
    WrongRole(String),
    #[error("these are not tutors of this organisation: {}", list(.0))]
    UnknownPersonas(Vec<Uuid>),
    #[error("only the class's teachers and admins change it")]
    NotTeacher,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

fn list(ids: &[Uuid]) -> String {
    ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", ")
}

impl From<crate::auth::AuthError> for ClassError {
    fn from(err: crate::auth::AuthError) -> Self {
        Self::Unexpected(anyhow::Error::new(err).context("asking the auth domain about people"))
    }
}

impl From<crate::persona::PersonaError> for ClassError {
    fn from(err: crate::persona::PersonaError) -> Self {
        Self::Unexpected(anyhow::Error::new(err).context("asking the persona domain about tutors"))
    }
}

impl ClassError {
    fn api(&self) -> ApiError {
        let (status, code) = match self {
            Self::NotFound => return ApiError::not_found("class"),
            Self::Required(_) => (StatusCode::UNPROCESSABLE_ENTITY, "field_required"),
            Self::TooLong { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "field_too_long"),
            Self::UnknownUsers(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_user"),
            Self::WrongRole(_) => (StatusCode::UNPROCESSABLE_ENTITY, "wrong_role"),
            Self::UnknownPersonas(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_persona"),
            Self::NotTeacher => return ApiError::forbidden(self.to_string()),
            Self::Unexpected(cause) => return ApiError::internal(cause),
        };
        ApiError::new(status, code, self.to_string())
    }
}

crate::error::domain_error!(ClassError);
