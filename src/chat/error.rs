use actix_web::http::StatusCode;

use crate::error::ApiError;
use crate::platform::llm::chat::ChatErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("only the student who owns this session may send messages in it")]
    NotOwner,
    #[error("only teachers and admins read their organisation's sessions")]
    StaffOnly,
    #[error("{0}")]
    Invalid(String),
    #[error("an answer is still being written in this session; wait for it or cancel it")]
    TurnInProgress,
    /// The language model failed; the student's message is kept and the session stays usable.
    #[error("{}", .0.public_message())]
    Llm(ChatErrorKind),
    #[error(transparent)]
    Quota(#[from] crate::billing::BillingError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<crate::persona::PersonaError> for ChatError {
    fn from(err: crate::persona::PersonaError) -> Self {
        match err {
            crate::persona::PersonaError::NotFound => Self::NotFound("persona"),
            other => Self::Unexpected(anyhow::Error::new(other).context("reading the persona")),
        }
    }
}

impl ChatError {
    /// The stable code, also used by the WebSocket's `error` frames.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::NotOwner | Self::StaffOnly => "forbidden",
            Self::Invalid(_) => "invalid_request",
            Self::TurnInProgress => "turn_in_progress",
            Self::Llm(kind) => kind.code(),
            Self::Quota(err) => err.api().code,
            Self::Unexpected(_) => "internal",
        }
    }

    pub fn api(&self) -> ApiError {
        let status = match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::NotOwner | Self::StaffOnly => StatusCode::FORBIDDEN,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TurnInProgress => StatusCode::CONFLICT,
            Self::Llm(ChatErrorKind::Timeout) => StatusCode::GATEWAY_TIMEOUT,
            Self::Llm(_) => StatusCode::BAD_GATEWAY,
            Self::Quota(err) => return err.api(),
            Self::Unexpected(cause) => return ApiError::internal(cause),
        };
        ApiError::new(status, self.code(), self.to_string())
    }
}

crate::error::domain_error!(ChatError);
