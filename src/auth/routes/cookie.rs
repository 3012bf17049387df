//! The refresh cookie: how a browser keeps its refresh token out of every script's reach. It is HttpOnly (no
//! script reads it), SameSite=Strict (no other site's page sends it) and scoped to `/api/v1/auth/`, the refresh
//! and sign-out routes' prefix, so no other request carries it. Sign-out needs it too: without it, signing out would
//! end every session of the person instead of this browser's.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

use crate::auth::views::TokenResponse;

pub const REFRESH_COOKIE: &str = "bwenge_refresh";
const COOKIE_PATH: &str = "/api/v1/auth/";

/// The refresh token the browser sent in its cookie, if any.
pub fn presented(req: &HttpRequest) -> Option<String> {
    req.cookie(REFRESH_COOKIE).map(|c| c.value().to_owned()).filter(|v| !v.is_empty())
}

/// `tokens` as the response body; with `in_cookie`, the refresh token moves from the body into the cookie.
pub fn respond(
    req: &HttpRequest,
    mut response: HttpResponseBuilder,
    mut tokens: TokenResponse,
    in_cookie: bool,
    ttl_days: i64,
) -> HttpResponse {
    if in_cookie && let Some(token) = tokens.refresh_token.take() {
        response.cookie(build(req, token, time::Duration::days(ttl_days)));
    }
    response.json(tokens)
}

/// An expired cookie: the browser forgets the refresh token.
pub fn cleared(req: &HttpRequest) -> Cookie<'static> {
    build(req, String::new(), time::Duration::ZERO)
}

fn build(req: &HttpRequest, value: String, max_age: time::Duration) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        // Secure whenever the page is served over HTTPS (here or at a proxy): then the cookie never travels in
        // the clear. Plain HTTP (a laptop, a LAN) needs it without, or the browser would drop it.
        .secure(req.connection_info().scheme() == "https")
        .max_age(max_age)
        .finish()
}
