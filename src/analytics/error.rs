use actix_web::http::StatusCode;

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// Also what another org's id, or a student or class the caller does not oversee, answers.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A bad period, week, event or setting; `code` names which.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("too many events; retry in {0} s")]
    RateLimited(u64),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl AnalyticsError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { code, message: message.into() }
    }

    pub fn api(&self) -> ApiError {
        match self {
            Self::NotFound(what) => ApiError::not_found(what),
            Self::Invalid { code, message } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message.clone()),
            Self::Forbidden(message) => ApiError::forbidden(*message),
            Self::RateLimited(secs) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", self.to_string()).with_retry_after(*secs)
            }
            Self::Unexpected(cause) => ApiError::internal(cause),
        }
    }
}

impl From<crate::classes::ClassError> for AnalyticsError {
    fn from(err: crate::classes::ClassError) -> Self {
        match err {
            crate::classes::ClassError::NotFound => Self::NotFound("class"),
            other => Self::Unexpected(anyhow::Error::new(other).context("asking the classes domain")),
        }
    }
}

macro_rules! unexpected_from {
    ($($domain:path => $what:literal),* $(,)?) => {$(
        impl From<$domain> for AnalyticsError {
            fn from(err: $domain) -> Self {
                Self::Unexpected(anyhow::Error::new(err).context($what))
            }
        }
    )*};
}

unexpected_from!(
    crate::auth::AuthError => "asking the auth domain about people",
    crate::persona::PersonaError => "asking the persona domain about tutors",
    crate::ingest::IngestError => "asking the knowledge domain about documents",
);

crate::error::domain_error!(AnalyticsError);
