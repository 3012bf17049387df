//! Typed extractors: a handler that takes [`AuthUser`] cannot run for an unauthenticated caller, one that takes
//! [`Tenant`] gets the org every query must be scoped to, and one that takes `RequireRole<Admin>` cannot run for
//! a caller without that role.
//!
//! A bearer token is either an access JWT (a person) or an API key (`bwk_...`, server-to-server). Keys act with
//! the `teacher` role: they manage content, never people, keys or billing; a `read` key may only read.

use std::marker::PhantomData;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::entities::api_key;
use super::error::AuthError;
use super::{Role, secrets};
use crate::app::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token of a signed-in person, valid until `expires_at` (Unix seconds).
    Session { expires_at: i64 },
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
            Credential::Session { expires_at } => Some(expires_at),
            Credential::ApiKey { .. } => None,
        }
    }
}

impl FromRequest for AuthUser {
    type Error = AuthError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or(AuthError::Unexpected(anyhow::anyhow!("AppState missing from app data")))?;
            let token = bearer_token(&req).ok_or(AuthError::MissingToken)?;
            authenticate(state, token, req.method()).await
        })
    }
}

/// The caller a bearer token names, with the API rate limits applied: for transports that carry the token
/// elsewhere than the `Authorization` header (the chat WebSocket's `?token=` or sub-protocol).
pub async fn authenticate(state: &AppState, token: &str, method: &Method) -> Result<AuthUser, AuthError> {
    let user = if token.starts_with(secrets::API_KEY_PREFIX) {
        from_api_key(state, token, method).await?
    } else {
        let claims = state.jwt.verify(token).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::TokenExpired,
            _ => AuthError::InvalidToken,
        })?;
        AuthUser {
            user_id: claims.sub,
            org_id: claims.org,
            role: claims.role,
            credential: Credential::Session { expires_at: claims.exp },
        }
    };
    enforce_api_limits(state, &user).await?;
    Ok(user)
}

async fn from_api_key(state: &AppState, token: &str, method: &Method) -> Result<AuthUser, AuthError> {
    let key = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(secrets::digest(token)))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(&state.db)
        .await?
        .ok_or(AuthError::InvalidToken)?;
    let write = key.scope == "write";
    if !write && !matches!(*method, Method::GET | Method::HEAD) {
        return Err(AuthError::InsufficientScope);
    }
    super::api_keys::touch(&state.db, &key).await;
    Ok(AuthUser {
        user_id: key.created_by,
        org_id: key.org_id,
        role: Role::Teacher,
        credential: Credential::ApiKey { id: key.id, write },
    })
}

async fn enforce_api_limits(state: &AppState, user: &AuthUser) -> Result<(), AuthError> {
    let limits = &state.settings.ratelimit;
    let minute = Duration::from_secs(60);
    let caller = match user.credential {
        Credential::Session { .. } => format!("api:user:{}", user.user_id),
        Credential::ApiKey { id, .. } => format!("api:key:{id}"),
    };
    for (key, limit) in
        [(caller, limits.api_per_user_per_minute), (format!("api:org:{}", user.org_id), limits.api_per_org_per_minute)]
    {
        let decision = state.rate_limiter.hit(&key, limit, minute).await?;
        if !decision.allowed {
            return Err(AuthError::RateLimited(decision.reset_after.as_secs().max(1)));
        }
    }
    Ok(())
}

fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// The caller's organisation: the only org a handler taking it may read or write.
#[derive(Debug, Clone, Copy)]
pub struct Tenant(pub Uuid);

impl FromRequest for Tenant {
    type Error = AuthError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        Box::pin(async move { Ok(Tenant(user.await?.org_id)) })
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
