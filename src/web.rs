//! The web app: `static/` inside the binary. Its files are served under `/assets/<version>/`, where the version is
//! a hash of every file, so a browser may keep them for a year and still never runs a stale mix after an upgrade;
//! the page itself (`index.html`, with the version written in) answers every path that is not the API's, so an
//! address in the app can be reloaded or shared, and is never cached without asking.
//!
//! Everything is same-origin and nothing is inline, so the strict Content-Security-Policy of `http.rs` holds.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{LazyLock, RwLock};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "static/"]
#[exclude = "README.md"]
struct Assets;

const INDEX: &str = "index.html";
const ASSETS_PLACEHOLDER: &str = "{{ASSETS}}";
/// Paths that belong to the server, never to the app: an unknown one is the API's JSON 404.
const SERVER_PREFIXES: [&str; 5] = ["/api/", "/assets/", "/healthz", "/readyz", "/metrics"];

/// The hash of every file's path and content: it changes whenever any file does.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut paths: Vec<Cow<'static, str>> = Assets::iter().collect();
    paths.sort();
    let mut hasher = Sha256::new();
    for path in paths {
        if let Some(file) = Assets::get(&path) {
            hasher.update(path.as_bytes());
            hasher.update(file.metadata.sha256_hash());
        }
    }
    hex(&hasher.finalize()[..8])
});

/// `index.html` with its asset links pointing at this version.
static PAGE: LazyLock<Option<String>> = LazyLock::new(|| {
    let file = Assets::get(INDEX)?;
    let text = String::from_utf8_lossy(&file.data).replace(ASSETS_PLACEHOLDER, &format!("/assets/{}", *VERSION));
    Some(text)
});

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The version the app's assets are served under.
pub fn version() -> &'static str {
    &VERSION
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page)).route("/assets/{version}/{path:.*}", web::get().to(asset));
}

/// Text files gzipped once, on first request: the app's own modules and three.js (about 2 MB as written, a
/// quarter of that gzipped) cross a school's network compressed. Bounded by the files in the binary.
static GZIPPED: LazyLock<RwLock<HashMap<String, Vec<u8>>>> = LazyLock::new(RwLock::default);

fn gzipped(path: &str, data: &[u8]) -> Option<Vec<u8>> {
    if let Some(done) = GZIPPED.read().ok().and_then(|cache| cache.get(path).cloned()) {
        return Some(done);
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).ok()?;
    let packed = encoder.finish().ok()?;
    if let Ok(mut cache) = GZIPPED.write() {
        cache.insert(path.to_owned(), packed.clone());
    }
    Some(packed)
}

fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|coding| coding.trim().split(';').next() == Some("gzip")))
}

/// This version's files never change (they are in the binary); another version's may be today's instead.
fn cache_control(current: bool) -> HeaderValue {
    HeaderValue::from_static(if current { "public, max-age=31536000, immutable" } else { "no-cache" })
}

fn unchanged(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"))
}

async fn asset(req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    let (version, file_path) = path.into_inner();
    let not_found = || ApiError::new(actix_web::http::StatusCode::NOT_FOUND, "not_found", "no such asset");
    if file_path == INDEX || file_path.split('/').any(|part| part == ".." || part.is_empty()) {
        return Err(not_found());
    }
    let file = Assets::get(&file_path).ok_or_else(not_found)?;
    let kind = content_type(&file_path, file.metadata.mimetype());
    // Text worth packing, for a browser that takes gzip; the packed form is another representation: its own ETag.
    let gzip = accepts_gzip(&req) && file.data.len() > 1024 && (kind.starts_with("text/") || kind.contains("json"));
    let hash = hex(&file.metadata.sha256_hash()[..16]);
    let etag = if gzip { format!("\"{hash}-gz\"") } else { format!("\"{hash}\"") };
    // A page of an older version asking for its files after an upgrade gets today's, which it must not keep.
    let current = version == *VERSION;
    let fresh = unchanged(&req, &etag);
    let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::CACHE_CONTROL, cache_control(current)))
        .insert_header((header::ETAG, etag))
        .insert_header((header::VARY, "Accept-Encoding"));
    if fresh {
        return Ok(response.finish());
    }
    if gzip && let Some(packed) = gzipped(&file_path, &file.data) {
        return Ok(response.content_type(kind).insert_header((header::CONTENT_ENCODING, "gzip")).body(packed));
    }
    Ok(response.content_type(kind).body(file.data.into_owned()))
}

/// Modules must be served as JavaScript (browsers refuse a module of any other type); text says its charset.
fn content_type(path: &str, guessed: &str) -> String {
    if path.ends_with(".js") || path.ends_with(".mjs") {
        return "text/javascript; charset=utf-8".into();
    }
    if guessed.starts_with("text/") || guessed == "image/svg+xml" || guessed == "application/json" {
        return format!("{guessed}; charset=utf-8");
    }
    guessed.to_owned()
}

/// The app's page, for `/` and (through [`fallback`]) for every other path of the app.
pub async fn page(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some(page) = PAGE.as_deref() else {
        return Err(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "not_found",
            "this build has no web app; the API is under /api/v1 and its documentation at /api/docs",
        ));
    };
    let etag = format!("\"{}\"", *VERSION);
    if unchanged(&req, &etag) {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag)).finish());
    }
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((header::ETAG, etag))
        .body(page.to_owned()))
}

/// Every request no route took: the app's page for a browser asking for a page of the app, our JSON 404 for
/// everything else (an unknown API path, an asset, a client that wants JSON).
pub async fn fallback(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let wants_page = matches!(*req.method(), actix_web::http::Method::GET | actix_web::http::Method::HEAD)
        && !SERVER_PREFIXES.iter().any(|prefix| req.path().starts_with(prefix))
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if wants_page {
        return page(req).await;
    }
    crate::http::not_found().await
}
