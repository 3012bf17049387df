//! Cross-cutting HTTP plumbing: request ids, the error reshaping net, metrics, and the extractor configs that
//! give malformed input our error shape instead of actix's plain text.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{InternalError, JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};

use crate::error::{self, ApiError, REQUEST_ID, Shaped};
use crate::platform::metrics::Metrics;

mod span;

pub use span::{RedactingRootSpan, redacted_target};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Runs inside `TracingLogger` (which mints the id and opens the request's span): makes the id readable by
/// every error built during the request, echoes it as `x-request-id`, and reshapes any error response that
/// does not have our shape yet (actix's 404/405, a guard's error, an error from a middleware).
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(ToString::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let mut res = REQUEST_ID
        .scope(id.clone(), async move {
            match next.call(req).await {
                Ok(res) => Ok::<_, actix_web::Error>(reshape(res.map_into_boxed_body())),
                // Only a middleware's own failure arrives here (handlers' errors are responses by now). The
                // request is gone, so the error travels on with its shaped response attached.
                Err(err) => {
                    let status = err.as_response_error().status_code();
                    Err(InternalError::from_response(err.to_string(), shaped_for_status(status)).into())
                }
            }
        })
        .await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(res)
}

fn reshape(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || res.response().extensions().get::<Shaped>().is_some()
    {
        return res;
    }
    let allow = res.headers().get(actix_web::http::header::ALLOW).cloned();
    let (req, _) = res.into_parts();
    let mut shaped = shaped_for_status(status);
    if let Some(allow) = allow {
        shaped.headers_mut().insert(actix_web::http::header::ALLOW, allow);
    }
    ServiceResponse::new(req, shaped)
}

fn shaped_for_status(status: StatusCode) -> actix_web::HttpResponse {
    error::error_response(status, error::code_for_status(status), &error::message_for_status(status), None)
}

/// Outermost middleware: counts every request by route *pattern* (never the raw path, which would give every
/// document id its own series) and measures latency from first byte in to response out.
pub async fn track_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let Some(metrics) = metrics else {
        return next.call(req).await;
    };
    let method = req.method().to_string();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    metrics.http_in_flight.inc();
    let result = next.call(req).await;
    metrics.http_in_flight.dec();
    let status = match &result {
        Ok(res) => res.status(),
        Err(err) => err.as_response_error().status_code(),
    };
    metrics.http_requests.with_label_values(&[method.as_str(), route.as_str(), status.as_str()]).inc();
    metrics
        .http_duration
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    result
}

/// A JSON object body. Like `web::Json` (same limits and errors), but only an object is accepted: serde would also
/// build a struct from an array (`[null, null]` for two optional fields), which no client means.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let object = web::Json::<serde_json::Map<String, serde_json::Value>>::from_request(req, payload);
        Box::pin(async move {
            let object = object.await?.into_inner();
            serde_json::from_value(serde_json::Value::Object(object))
                .map(Json)
                .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e.to_string()).into())
        })
    }
}

/// JSON bodies: a syntax error is 400 `malformed_json`; valid JSON of the wrong shape (missing field, wrong
/// type, not an object) is 422 `invalid_body`; too big is 413; not JSON at all is 415.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(move |err, _req: &HttpRequest| {
        let api = match &err {
            JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("JSON body is larger than the {limit}-byte limit"),
            ),
            JsonPayloadError::ContentType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a body with Content-Type: application/json",
            ),
            JsonPayloadError::Deserialize(e) if e.is_data() => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e.to_string())
            }
            JsonPayloadError::Deserialize(e) => {
                ApiError::bad_request("malformed_json", format!("body is not valid JSON: {e}"))
            }
            _ => ApiError::bad_request("invalid_body", "the request body could not be read"),
        };
        api.into()
    })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req: &HttpRequest| {
        ApiError::bad_request("invalid_query", err.to_string()).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req: &HttpRequest| {
        ApiError::bad_request("invalid_path", err.to_string()).into()
    })
}

/// The fallback for every path no route matches.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "no route matches this path"))
}

/// The web app's Content-Security-Policy, fixed at start from the settings: scripts, styles and frames only from
/// this origin, always. Model files load as `blob:`/`data:` parts (a glTF's embedded textures), and from where the
/// asset links point: this origin, a configured CDN, or (S3 storage) the bucket's presigned HTTPS URLs.
#[derive(Debug, Clone)]
pub struct Csp(HeaderValue);

impl Csp {
    pub fn for_settings(settings: &crate::config::Settings) -> anyhow::Result<Self> {
        let mut sources = vec!["'self'".to_owned(), "blob:".into(), "data:".into()];
        if let Ok(cdn) = url::Url::parse(&settings.assets.base_url) {
            sources.push(cdn.origin().ascii_serialization());
        }
        if settings.storage.url.starts_with("s3://") {
            sources.push("https:".into());
        }
        let sources = sources.join(" ");
        let policy = format!(
            "default-src 'self'; img-src {sources}; connect-src {sources}; frame-ancestors 'none'; \
             base-uri 'self'; object-src 'none'; form-action 'self'"
        );
        Ok(Self(HeaderValue::from_str(&policy).map_err(|_| anyhow::anyhow!("assets.base_url: not a usable origin"))?))
    }
}

/// Browser hardening on every response. The docs UI alone may use inline styles (Swagger UI sets them).
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_web::http::header;
    let docs = req.path().starts_with("/api/docs");
    let app = req.app_data::<web::Data<Csp>>().map(|csp| csp.0.clone());
    let mut res = next.call(req).await?;
    let csp = match app {
        _ if docs => HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; \
             base-uri 'self'; object-src 'none'",
        ),
        Some(csp) => csp,
        None => HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'; form-action 'self'",
        ),
    };
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    Ok(res)
}

/// Same-origin requests always pass (browsers send `Origin` on same-origin POSTs too); other origins only
/// when listed in `server.cors_origins`.
pub fn cors(allowed: &[String]) -> actix_cors::Cors {
    use actix_web::http::header;
    let allowed: Vec<String> = allowed.iter().map(|o| o.trim_end_matches('/').to_owned()).collect();
    actix_cors::Cors::default()
        .allowed_origin_fn(move |origin, head| {
            let Ok(origin) = origin.to_str() else { return false };
            let same = head
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .is_some_and(|host| origin == format!("http://{host}") || origin == format!("https://{host}"));
            same || allowed.iter().any(|a| a == origin)
        })
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([REQUEST_ID_HEADER, header::RETRY_AFTER])
        .max_age(600)
}

/// The client's address: the connection's peer, unless the peer is one of `trusted` proxies; then the rightmost
/// `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left are whatever the client wrote,
/// so they are never believed). An entry that does not parse as an address ends the walk at the last trusted hop.
pub fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> std::net::IpAddr {
    use std::net::{IpAddr, Ipv4Addr};
    let peer = req.peer_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in forwarded.into_iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// A client's file name as a label: printable, short, never a path (`fallback` when nothing is left).
pub fn file_label(raw: &str, fallback: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(250).collect();
    if cleaned.trim().is_empty() { fallback.into() } else { cleaned.trim().to_owned() }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn ip(peer: &str, forwarded: Option<&str>, trusted: &[&str]) -> String {
        let peer = std::net::SocketAddr::new(peer.parse().unwrap(), 4000);
        let mut req = TestRequest::default().peer_addr(peer);
        if let Some(value) = forwarded {
            req = req.insert_header(("x-forwarded-for", value));
        }
        let trusted: Vec<ipnet::IpNet> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        client_ip(&req.to_http_request(), &trusted).to_string()
    }

    #[test]
    fn the_client_is_the_first_hop_no_trusted_proxy_vouches_for() {
        assert_eq!(ip("203.0.113.9", Some("1.2.3.4"), &[]), "203.0.113.9", "no trusted proxies: the peer");
        assert_eq!(ip("203.0.113.9", Some("1.2.3.4"), &["10.0.0.0/8"]), "203.0.113.9", "an untrusted peer's header");
        assert_eq!(ip("10.0.0.2", Some("198.51.100.7"), &["10.0.0.0/8"]), "198.51.100.7");
        // A client that writes its own header only adds entries on the left: they are never believed.
        assert_eq!(ip("10.0.0.2", Some("6.6.6.6, 198.51.100.7"), &["10.0.0.0/8"]), "198.51.100.7");
        assert_eq!(ip("10.0.0.2", Some("198.51.100.7, 10.0.0.5"), &["10.0.0.0/8"]), "198.51.100.7", "two proxies");
        assert_eq!(ip("10.0.0.2", Some("not-an-ip, 198.51.100.7"), &["10.0.0.0/8"]), "198.51.100.7");
        assert_eq!(ip("10.0.0.2", Some(&"x".repeat(500)), &["10.0.0.0/8"]), "10.0.0.2", "junk: the proxy itself");
        assert_eq!(ip("10.0.0.2", None, &["10.0.0.0/8"]), "10.0.0.2");
        assert_eq!(ip("::1", Some("2001:db8::1"), &["::1/128"]), "2001:db8::1");
    }
}
