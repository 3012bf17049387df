//! The request's root span and its last line: secrets kept out of the target, a client's mistake in one short line.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};

use crate::error;

/// The request's span: tracing-actix-web's fields, except that the target's secrets are redacted. A WebSocket
/// carries its access token in `?token=` (browsers cannot set headers on one), and a signed link its signature:
/// neither may land in a log.
pub struct RedactingRootSpan;

/// Query parameters whose values never reach the logs.
const SECRET_PARAMS: [&str; 4] = ["token", "access_token", "sig", "signature"];

impl tracing_actix_web::RootSpanBuilder for RedactingRootSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let request_id = request.extensions().get::<tracing_actix_web::RequestId>().map(ToString::to_string);
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %redacted_target(request.uri()),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id.unwrap_or_default(),
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    /// A client's mistake is one short info line (its status and error code), not a warning with the error's
    /// debug dump (the middleware's default, off: 20k bad requests made 13 MB of log). Server errors keep the
    /// details on the span, and were logged with their cause where they happened.
    fn on_request_end<B: MessageBody>(span: tracing::Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        let status = match outcome {
            Ok(response) => response.status(),
            Err(err) => err.as_response_error().status_code(),
        };
        if !status.is_client_error() {
            tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
            return;
        }
        span.record("http.status_code", status.as_u16());
        span.record("otel.status_code", "OK");
        let error = match outcome {
            Ok(response) => response.response().error(),
            Err(err) => Some(err),
        };
        let code = error
            .and_then(|e| e.as_error::<error::ApiError>())
            .map_or_else(|| error::code_for_status(status), |e| e.code);
        span.in_scope(|| tracing::info!(code, "client error"));
    }
}

/// The path and query with the values of [`SECRET_PARAMS`] replaced.
pub fn redacted_target(uri: &actix_web::http::Uri) -> String {
    let Some(query) = uri.query() else { return uri.path().to_owned() };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMS.iter().any(|secret| name.eq_ignore_ascii_case(secret)) => {
                format!("{name}=[redacted]")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{}?{}", uri.path(), redacted.join("&"))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn secrets_in_the_query_are_redacted() {
        let uri: actix_web::http::Uri = "/api/v1/chat/ws?token=eyJhbGciOi.x.y&lang=en&sig=abc".parse().unwrap();
        assert_eq!(redacted_target(&uri), "/api/v1/chat/ws?token=[redacted]&lang=en&sig=[redacted]");
        let plain: actix_web::http::Uri = "/api/v1/users?page=2".parse().unwrap();
        assert_eq!(redacted_target(&plain), "/api/v1/users?page=2");
    }

    /// What the request's log lines carry: the span's fields as the fmt layer writes them.
    #[test]
    fn the_request_span_never_carries_a_token() {
        use std::io::Write;
        use std::sync::{Arc, Mutex};
        use tracing_actix_web::RootSpanBuilder;

        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let req = TestRequest::default().uri("/api/v1/chat/ws?token=eyJ.secret.part").to_srv_request();
        tracing::subscriber::with_default(subscriber, || {
            let span = RedactingRootSpan::on_request_start(&req);
            span.in_scope(|| tracing::info!("handled"));
        });
        let logged = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(logged.contains("handled") && logged.contains("token=[redacted]"), "{logged}");
        assert!(!logged.contains("eyJ.secret.part"), "{logged}");
    }
}
