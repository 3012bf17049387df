use actix_web::http::StatusCode;

use super::inspect::Rejection;
use crate::error::ApiError;

/// Each refusal has its own stable code, so the upload form can say what to fix without parsing text.
#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    #[error("avatar not found")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error("the upload is larger than the {0}-byte limit")]
    TooLarge(u64),
    #[error("the file is empty")]
    Empty,
    #[error("only .glb and .gltf models are accepted")]
    Unsupported,
    #[error("{0}")]
    Model(String),
    #[error("{0}")]
    ExternalUri(String),
    #[error("{0}")]
    ModelTooLarge(String),
    #[error("name must be at most {0} characters")]
    NameTooLong(usize),
    #[error("{0:?} is not an avatar cue (greet, think, explain, encourage, celebrate, idle)")]
    UnknownCue(String),
    #[error("the model has no clip named {0:?}")]
    UnknownClip(String),
    #[error("the avatar is used by {}; unlink it first, or delete with ?force=true", .0.join(", "))]
    InUse(Vec<String>),
    #[error("the link's signature does not match")]
    BadSignature,
    #[error("the link has expired; ask for the avatar again for a fresh one")]
    Expired,
    #[error("the requested range is outside the file ({0} bytes)")]
    Range(u64),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<Rejection> for AvatarError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::Invalid(why) => Self::Model(why),
            Rejection::ExternalUri(why) => Self::ExternalUri(why),
            Rejection::TooLarge(why) => Self::ModelTooLarge(why),
        }
    }
}

impl AvatarError {
    fn api(&self) -> ApiError {
        let (status, code) = match self {
            Self::NotFound => return ApiError::not_found("avatar"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Empty => (StatusCode::UNPROCESSABLE_ENTITY, "empty_file"),
            Self::Unsupported => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type"),
            Self::Model(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_model"),
            Self::ExternalUri(_) => (StatusCode::UNPROCESSABLE_ENTITY, "external_uri"),
            Self::ModelTooLarge(_) => (StatusCode::UNPROCESSABLE_ENTITY, "model_too_large"),
            Self::NameTooLong(_) => (StatusCode::UNPROCESSABLE_ENTITY, "field_too_long"),
            Self::UnknownCue(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_cue"),
            Self::UnknownClip(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_clip"),
            Self::InUse(_) => (StatusCode::CONFLICT, "avatar_in_use"),
            Self::BadSignature => (StatusCode::FORBIDDEN, "invalid_signature"),
            Self::Expired => (StatusCode::FORBIDDEN, "link_expired"),
            Self::Range(_) => (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable"),
            Self::Unexpected(cause) => return ApiError::internal(cause),
        };
        ApiError::new(status, code, self.to_string())
    }
}

crate::error::domain_error!(AvatarError);
