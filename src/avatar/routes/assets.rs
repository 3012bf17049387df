//! Stored files behind signed links: no bearer token (a model loader or an `<img>` sends none), the link itself is
//! the credential. Answers byte ranges, revalidation by `ETag`, and lets the browser (or a CDN) keep the file as
//! long as the link lives.

use std::ops::Range;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use crate::avatar::error::AvatarError;
use crate::avatar::service::AvatarService;
use crate::avatar::views::{AssetQuery, ModelFormat};
use crate::error::ErrorBody;
use crate::platform::storage::ObjectInfo;

/// Get a stored file by signed link
///
/// The links come from the API (an avatar's `url`); they expire after `assets.url_ttl_secs`. Supports `Range`
/// (one range) and `If-None-Match`.
#[utoipa::path(get, path = "/api/v1/assets/{key}", tag = "avatars", operation_id = "get_asset",
    params(("key" = String, Path, description = "the stored file's key, as the link gives it"), AssetQuery),
    extensions(("x-min-role" = json!("none"))),
    responses((status = 200, description = "the file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "the requested range", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 304, description = "unchanged (`If-None-Match`)"),
        (status = 403, description = "`invalid_signature` (tampered, or another server's) or `link_expired`",
            body = ErrorBody),
        (status = 404, description = "`not_found`: the file is gone", body = ErrorBody),
        (status = 416, description = "`range_not_satisfiable`", body = ErrorBody)))]
pub async fn get(
    avatars: web::Data<AvatarService>,
    req: HttpRequest,
    key: web::Path<String>,
    query: web::Query<AssetQuery>,
) -> Result<HttpResponse, AvatarError> {
    let info = avatars.open_asset(&key, query.expires, &query.sig).await?;
    let etag = etag(&info);
    let max_age = (query.expires - Utc::now().timestamp()).max(0);
    // Behind a CDN (`assets.base_url`) the edge may keep it; otherwise only the browser that holds the link.
    let scope = if avatars.behind_cdn() { "public" } else { "private" };
    let cache = format!("{scope}, max-age={max_age}, immutable");
    let content_type = content_type(&key);
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if not_modified {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish());
    }
    let asked = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok());
    let range = match asked {
        Some(value) => byte_range(value, info.size).ok_or(AvatarError::Range(info.size))?,
        None => None,
    };
    let mut response = match &range {
        Some(range) => {
            let mut partial = HttpResponse::PartialContent();
            let last = range.end - 1;
            partial.insert_header((header::CONTENT_RANGE, format!("bytes {}-{last}/{}", range.start, info.size)));
            partial
        }
        None => HttpResponse::Ok(),
    };
    let body = avatars.read_asset(&key, range.unwrap_or(0..info.size)).await?;
    Ok(response
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::LAST_MODIFIED, info.last_modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string()))
        .body(body))
}

fn etag(info: &ObjectInfo) -> String {
    match &info.e_tag {
        Some(tag) => format!("\"{}\"", tag.trim_matches('"')),
        None => format!("\"{:x}-{:x}\"", info.size, info.last_modified.timestamp_millis()),
    }
}

fn content_type(key: &str) -> &'static str {
    let extension = key.rsplit_once('.').map(|(_, ext)| ext).unwrap_or_default();
    ModelFormat::parse(extension).map_or("application/octet-stream", ModelFormat::content_type)
}

/// The one range a `Range` header asks for, within `size`. `Ok(None)`: serve the whole file (no range we
/// understand, or several ranges: both allowed by RFC 9110); `None` from the outer option: unsatisfiable.
fn byte_range(value: &str, size: u64) -> Option<Option<Range<u64>>> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return Some(None) };
    if spec.contains(',') {
        return Some(None);
    }
    let Some((start, end)) = spec.trim().split_once('-') else { return Some(None) };
    let range = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let Ok(n) = suffix.parse::<u64>() else { return Some(None) };
            if n == 0 || size == 0 {
                return None;
            }
            size.saturating_sub(n)..size
        }
        (start, end) => {
            let Ok(start) = start.parse::<u64>() else { return Some(None) };
            let end = match end {
                "" => size,
                end => match end.parse::<u64>() {
                    Ok(last) if last >= start => (last + 1).min(size),
                    _ => return Some(None),
                },
            };
            if start >= size {
                return None;
            }
            start..end
        }
    };
    Some(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(byte_range("bytes=0-9", 100), Some(Some(0..10)));
        assert_eq!(byte_range("bytes=90-", 100), Some(Some(90..100)));
        assert_eq!(byte_range("bytes=-10", 100), Some(Some(90..100)));
        assert_eq!(byte_range("bytes=-500", 100), Some(Some(0..100)));
        assert_eq!(byte_range("bytes=95-200", 100), Some(Some(95..100)));
        assert_eq!(byte_range("bytes=100-", 100), None);
        assert_eq!(byte_range("bytes=-0", 100), None);
        // Not understood or several ranges: the whole file.
        assert_eq!(byte_range("bytes=0-1,5-6", 100), Some(None));
        assert_eq!(byte_range("lines=1-2", 100), Some(None));
        assert_eq!(byte_range("bytes=9-2", 100), Some(None));
        assert_eq!(byte_range("bytes=x-2", 100), Some(None));
    }
}
