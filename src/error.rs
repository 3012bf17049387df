//! The one error shape on the wire: `{"error": {"code", "message", "request_id"}}`.
//!
//! Domains keep their own `thiserror` enums and turn each variant into an [`ApiError`]; actix's own errors
//! (bad JSON, bad path, unknown route, wrong method, ...) are reshaped by [`crate::http::request_context`],
//! so no client ever sees plain text.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served, readable from any code the request's future runs.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "none".into())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case: clients branch on it.
    #[schema(example = "not_found")]
    pub code: String,
    /// For people; may change between versions.
    pub message: String,
    /// Also in the `x-request-id` header and in every log line of the request.
    pub request_id: String,
    /// Facts a client can act on, for the codes that have them (`quota_exceeded`: which limit, the usage and the
    /// limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// Marks an error response whose body is deliberate (our error shape, or a documented body such as
/// `/readyz`'s checks), so the reshaping middleware leaves it be.
#[derive(Debug, Clone, Copy)]
pub struct Shaped;

/// An error ready for the wire. Internal causes never go in `message`: log them before building one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, sent as `Retry-After` (429 and 503).
    pub retry_after: Option<u64>,
    /// Boxed: most errors have none, and every `Result` carrying an `ApiError` pays for its size.
    pub details: Option<Box<serde_json::Value>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None, details: None }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// Logs the cause with the request id and answers a bland 500.
    pub fn internal(cause: &anyhow::Error) -> Self {
        tracing::error!(error = ?cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; quote the request id to support")
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(cause: anyhow::Error) -> Self {
        Self::internal(&cause)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        shaped(self.status, self.code, &self.message, self.retry_after, self.details.as_deref().cloned())
    }
}

pub fn error_response(status: StatusCode, code: &str, message: &str, retry_after: Option<u64>) -> HttpResponse {
    shaped(status, code, message, retry_after, None)
}

fn shaped(
    status: StatusCode,
    code: &str,
    message: &str,
    retry_after: Option<u64>,
    details: Option<serde_json::Value>,
) -> HttpResponse {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message: message.to_owned(),
            request_id: current_request_id(),
            details,
        },
    };
    let mut response = HttpResponse::build(status);
    if let Some(secs) = retry_after {
        response.insert_header((header::RETRY_AFTER, HeaderValue::from(secs)));
    }
    let mut response = response.json(body);
    response.extensions_mut().insert(Shaped);
    response
}

/// The code for an error actix produced itself, judged by its status alone.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_ACCEPTABLE => "not_acceptable",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    }
}

/// A message for an actix-made error: the status's reason, since actix's own text can leak internals.
pub fn message_for_status(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "no route matches this path".into(),
        StatusCode::METHOD_NOT_ALLOWED => "this route does not accept that method".into(),
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    }
}

/// The shared part of a domain's error enum: it has an `api(&self) -> ApiError` that maps each variant to its
/// status and stable code, and an `Unexpected(anyhow::Error)` variant. This gives it `ResponseError` (whose status
/// is known without building, and so logging, the internal error) and `From<DbErr>` (a database failure is
/// unexpected, with the context said once here).
macro_rules! domain_error {
    ($error:ty) => {
        impl actix_web::ResponseError for $error {
            fn status_code(&self) -> actix_web::http::StatusCode {
                match self {
                    Self::Unexpected(_) => actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                    other => other.api().status,
                }
            }

            fn error_response(&self) -> actix_web::HttpResponse {
                self.api().error_response()
            }
        }

        impl From<sea_orm::DbErr> for $error {
            fn from(err: sea_orm::DbErr) -> Self {
                Self::Unexpected(anyhow::Error::new(err).context("database"))
            }
        }
    };
}
pub(crate) use domain_error;
