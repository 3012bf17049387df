//! Typed extractors: a handler that takes [`AuthUser`] cannot run for an unauthenticated caller, and one that
//! takes `RequireRole<R>` cannot run for a caller without that role.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use uuid::Uuid;

use super::Role;
use super::error::AuthError;
use crate::app::AppState;

/// The verified caller. Its `org_id` scopes every query the handler makes.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub role: Role,
}

impl FromRequest for AuthUser {
    type Error = AuthError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, AuthError> {
    let token = bearer_token(req).ok_or(AuthError::MissingToken)?;
    let state = req.app_data::<web::Data<AppState>>().ok_or(AuthError::Misconfigured)?;
    let claims = state.jwt.verify(token).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::TokenExpired,
        _ => AuthError::InvalidToken,
    })?;
    Ok(AuthUser { user_id: claims.sub, org_id: claims.org, role: claims.role })
}

fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn bearer_token_parsing_is_strict_about_the_scheme() {
        let req = TestRequest::default().insert_header(("authorization", "Bearer abc.def")).to_http_request();
        assert_eq!(bearer_token(&req), Some("abc.def"));
        let req = TestRequest::default().insert_header(("authorization", "bearer  xyz ")).to_http_request();
        assert_eq!(bearer_token(&req), Some("xyz"));
        let req = TestRequest::default().insert_header(("authorization", "Basic abc")).to_http_request();
        assert_eq!(bearer_token(&req), None);
        let req = TestRequest::default().insert_header(("authorization", "Bearer ")).to_http_request();
        assert_eq!(bearer_token(&req), None);
    }
}
