//! Typed extractors: a handler that takes [`AuthUser`] cannot run for an unauthenticated caller (its `org_id`
//! scopes every query), and one that takes `RequireRole<Admin>` cannot run for a caller without that role.
//! [`ClientIp`] is the caller's address as the rate limits and the audit log see it.
//!
//! A bearer token is either an access JWT (a person) or an API key (`bwk_...`, server-to-server). Keys act with
//! the `teacher` role: they manage content, never people, keys or billing; a `read` key may only read.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::{LocalBoxFuture, Ready, ready};
use uuid::Uuid;

use super::error::AuthError;
use super::service::AuthService;
use super::views::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token of a signed-in person, issued at `issued_ms` (Unix ms), valid until `expires_at` (Unix
    /// seconds) unless the person's access changes before.
    Session { expires_at: i64, issued_ms: i64 },
    /// An API key; `write: false` keys may only use GET.
    ApiKey { id: Uuid, write: bool },
}

/// The verified caller. Its `org_id` scopes every query the handler makes.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    /// The person, or for an API key the admin who created it (for the audit log).
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub role: Role,
    pub credential: Credential,
}

impl AuthUser {
    /// When the credential stops being accepted: an access token's expiry; API keys do not expire.
    pub fn expires_at(&self) -> Option<i64> {
        match self.credential {
            Credential::Session { expires_at, .. } => Some(expires_at),
            Credential::ApiKey { .. } => None,
        }
    }
}

fn service(req: &HttpRequest) -> Result<web::Data<AuthService>, AuthError> {
    req.app_data::<web::Data<AuthService>>()
        .cloned()
        .ok_or_else(|| AuthError::Unexpected(anyhow::anyhow!("the auth service is not registered")))
}

impl FromRequest for AuthUser {
    type Error = AuthError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let auth = service(&req)?;
            let token = bearer_token(&req)?;
            auth.authenticate(token, req.method()).await
        })
    }
}

/// The bearer token of the `Authorization` header. Another scheme (`Basic`, ...) is named as such, so a client
/// sending the wrong kind of credential learns it instead of being told it sent none.
fn bearer_token(req: &HttpRequest) -> Result<&str, AuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Err(AuthError::MissingToken) };
    let value = value.to_str().map_err(|_| AuthError::InvalidToken)?.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::UnsupportedAuthScheme);
    }
    match token.trim() {
        "" => Err(AuthError::MissingToken),
        token => Ok(token),
    }
}

/// A minimum role, as a type: `RequireRole<Admin>`, `RequireRole<Staff>`.
pub trait MinRole {
    const MIN: Role;
}

pub struct Admin;
/// Teachers and admins.
pub struct Staff;

impl MinRole for Admin {
    const MIN: Role = Role::Admin;
}

impl MinRole for Staff {
    const MIN: Role = Role::Teacher;
}

/// An [`AuthUser`] whose role is at least `R::MIN`; anyone else gets 403.
pub struct RequireRole<R: MinRole> {
    pub user: AuthUser,
    _role: PhantomData<R>,
}

impl<R: MinRole + 'static> FromRequest for RequireRole<R> {
    type Error = AuthError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let user = user.await?;
            if !user.role.at_least(R::MIN) {
                return Err(AuthError::Forbidden(format!("this action needs the {} role", R::MIN.as_str())));
            }
            Ok(Self { user, _role: PhantomData })
        })
    }
}

/// The client's address for rate limits and the audit log: the peer, or the proxy's forwarded value when the
/// deployment says a trusted proxy sets it.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl FromRequest for ClientIp {
    type Error = AuthError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(service(req).map(|auth| auth.client_ip(req)))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn bearer_token_parsing_is_strict_about_the_scheme() {
        let token = |value: &str| {
            let req = TestRequest::default().insert_header(("authorization", value)).to_http_request();
            bearer_token(&req).map(str::to_owned).map_err(|e| e.api().code)
        };
        assert_eq!(token("Bearer abc.def"), Ok("abc.def".into()));
        assert_eq!(token("bearer  xyz "), Ok("xyz".into()));
        assert_eq!(token("Basic abc"), Err("unsupported_auth_scheme"));
        assert_eq!(token("Digest"), Err("unsupported_auth_scheme"));
        assert_eq!(token("Bearer "), Err("missing_token"));
        let none = TestRequest::default().to_http_request();
        assert_eq!(bearer_token(&none).map_err(|e| e.api().code), Err("missing_token"));
    }
}
