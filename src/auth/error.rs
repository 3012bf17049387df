use actix_web::http::StatusCode;

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("this route needs an `Authorization: Bearer <token>` header")]
    MissingToken,
    #[error("only `Authorization: Bearer <token>` is accepted (an access token or an API key)")]
    UnsupportedAuthScheme,
    #[error("the access token is not valid")]
    InvalidToken,
    #[error("the access token has expired; refresh it")]
    TokenExpired,
    #[error("the access token was issued before this account's access changed; refresh it or sign in again")]
    TokenRevoked,
    #[error("the API key was revoked")]
    KeyRevoked,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("this account is deactivated")]
    AccountDisabled,
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    #[error("the refresh token has expired; sign in again")]
    RefreshTokenExpired,
    #[error("this refresh token was already used; every session of its family is revoked, sign in again")]
    RefreshTokenReused,
    #[error("{0}")]
    WeakPassword(String),
    #[error("{0}")]
    Invalid(String),
    #[error("class_id {0} is not a class you teach in this organisation")]
    UnknownClass(uuid::Uuid),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("this server does not take sign-ups: ask an administrator of your school for an invitation")]
    RegistrationClosed,
    #[error("{0}")]
    Forbidden(String),
    #[error("this API key may only read")]
    InsufficientScope,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the invitation is not valid, was already used, or has expired")]
    InvalidInvitation,
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests; retry in {0} s")]
    RateLimited(u64),
    #[error(transparent)]
    Quota(#[from] crate::billing::BillingError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl AuthError {
    pub fn api(&self) -> ApiError {
        let (status, code) = match self {
            Self::MissingToken => (StatusCode::UNAUTHORIZED, "missing_token"),
            Self::UnsupportedAuthScheme => (StatusCode::UNAUTHORIZED, "unsupported_auth_scheme"),
            Self::InvalidToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
            Self::TokenExpired => (StatusCode::UNAUTHORIZED, "token_expired"),
            Self::TokenRevoked => (StatusCode::UNAUTHORIZED, "token_revoked"),
            Self::KeyRevoked => (StatusCode::UNAUTHORIZED, "key_revoked"),
            Self::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Self::AccountDisabled => (StatusCode::FORBIDDEN, "account_disabled"),
            Self::InvalidRefreshToken => (StatusCode::UNAUTHORIZED, "invalid_refresh_token"),
            Self::RefreshTokenExpired => (StatusCode::UNAUTHORIZED, "refresh_token_expired"),
            Self::RefreshTokenReused => (StatusCode::UNAUTHORIZED, "refresh_token_reused"),
            Self::WeakPassword(_) => (StatusCode::UNPROCESSABLE_ENTITY, "weak_password"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            Self::EmailTaken => (StatusCode::CONFLICT, "email_taken"),
            Self::RegistrationClosed => (StatusCode::FORBIDDEN, "registration_closed"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::InsufficientScope => (StatusCode::FORBIDDEN, "insufficient_scope"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::InvalidInvitation => (StatusCode::NOT_FOUND, "invalid_invitation"),
            Self::UnknownClass(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_class"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Quota(err) => return err.api(),
            Self::RateLimited(secs) => {
                return ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", self.to_string())
                    .with_retry_after(*secs);
            }
            Self::Unexpected(cause) => return ApiError::internal(cause),
        };
        ApiError::new(status, code, self.to_string())
    }
}

crate::error::domain_error!(AuthError);
