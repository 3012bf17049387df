use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("this route needs an `Authorization: Bearer <token>` header")]
    MissingToken,
    #[error("the access token is not valid")]
    InvalidToken,
    #[error("the access token has expired; refresh it")]
    TokenExpired,
    #[error("authentication is not set up on this server")]
    Misconfigured,
}

impl AuthError {
    fn api(&self) -> ApiError {
        let (status, code) = match self {
            Self::MissingToken => (StatusCode::UNAUTHORIZED, "missing_token"),
            Self::InvalidToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
            Self::TokenExpired => (StatusCode::UNAUTHORIZED, "token_expired"),
            Self::Misconfigured => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, self.to_string())
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        self.api().status
    }

    fn error_response(&self) -> HttpResponse {
        self.api().error_response()
    }
}
