//! The OpenAPI 3.1 document: the base (info, the error shape, security schemes) merged with each domain's part,
//! served at `/api/openapi.json` with a docs UI at `/api/docs` whose assets are compiled into the binary.
//!
//! The document is serialised once at start-up and served as those bytes: as a value it takes ~5.6 MiB, and the
//! docs UI's own route kept one clone per HTTP worker (measured with heaptrack: 28 of an idle server's 34 MiB of
//! heap), while its JSON is ~200 KB.
//!
//! Errors the shared plumbing produces on every route (bad JSON, a malformed id, a missing token, a rate limit)
//! are documented here once, on each operation they can reach, so a client generated from the document knows
//! every status it may get; a route documents the errors of its own logic itself.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response};

use crate::error::{ErrorBody, ErrorDetail};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bwenge API",
        description = "Self-hosted AI-tutor platform. Errors always have the shape \
        `{\"error\":{\"code\",\"message\",\"request_id\"}}`; `code` is stable."
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
struct BaseApi;

/// The whole document: the base, the ops routes and every domain's part, with the shared errors and security
/// schemes added.
pub fn document(domains: impl IntoIterator<Item = utoipa::openapi::OpenApi>) -> utoipa::openapi::OpenApi {
    let mut doc = BaseApi::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.merge(crate::ops::OpsApi::openapi());
    for part in domains {
        doc.merge(part);
    }
    add_security_schemes(&mut doc);
    for item in doc.paths.paths.values_mut() {
        for (method, op) in [
            ("GET", &mut item.get),
            ("POST", &mut item.post),
            ("PUT", &mut item.put),
            ("PATCH", &mut item.patch),
            ("DELETE", &mut item.delete),
        ] {
            if let Some(op) = op {
                add_shared_errors(method, op);
                describe_every_response(op);
            }
        }
    }
    doc
}

/// The document as served: its JSON, built once.
#[derive(Clone)]
pub struct Published(web::Bytes);

impl Published {
    pub fn new(domains: impl IntoIterator<Item = utoipa::openapi::OpenApi>) -> anyhow::Result<Self> {
        Ok(Self(serde_json::to_vec(&document(domains))?.into()))
    }
}

/// `GET /api/openapi.json`.
pub async fn serve(doc: web::Data<Published>) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::json()).body(doc.0.clone())
}

fn add_security_schemes(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("An access token from `/auth/login`, `/auth/register` or `/auth/refresh`."))
                .build(),
        ),
    );
    components.add_security_scheme(
        "api_key",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("bwk_...")
                .description(Some(
                    "An organisation's API key, sent as `Authorization: Bearer bwk_...`. It acts as a teacher; a \
                     `read` key may only read.",
                ))
                .build(),
        ),
    );
}

fn error_response(description: String) -> RefOr<Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    let mut response = Response::new(description);
    response.content.insert("application/json".into(), content.into());
    RefOr::T(response)
}

/// The errors the extractors, the auth layer and the JSON reader produce, on the operations they can reach.
fn add_shared_errors(method: &str, op: &mut Operation) {
    let params: Vec<_> = op
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p),
            RefOr::Ref(_) => None,
        })
        .collect();
    let path = params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Path));
    // A free-text query parameter cannot be malformed; a number, an enum or a bounded one can.
    let query = params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Query) && !free_text(p));
    let bounded_query = params.iter().any(|p| {
        let schema = serde_json::to_value(&p.schema).unwrap_or_default();
        matches!(p.parameter_in, ParameterIn::Query)
            && (schema.get("minimum").is_some() || schema.get("maximum").is_some())
    });
    let json_body = matches!(&op.request_body, Some(RefOr::T(body)) if body.content.contains_key("application/json"));
    let secured = op.security.is_some();
    let min_role = op.extensions.as_ref().and_then(|e| e.get("x-min-role")).and_then(|v| v.as_str().map(str::to_owned));

    let mut bad_request = Vec::new();
    if json_body {
        bad_request.push("`malformed_json`: the body is not valid JSON");
    }
    if path {
        bad_request.push("`invalid_path`: a path parameter is malformed (e.g. not a UUID)");
    }
    if query {
        bad_request.push("`invalid_query`: a query parameter is malformed");
    }
    let mut shared: Vec<(&str, String)> = Vec::new();
    if !bad_request.is_empty() {
        shared.push(("400", bad_request.join("; ")));
    }
    if secured {
        shared.push((
            "401",
            "`missing_token`, `unsupported_auth_scheme` (not `Bearer`), `invalid_token` or `token_expired`: sign in \
             (again)"
                .into(),
        ));
        let role_limited = min_role.as_deref().is_some_and(|r| r != "student");
        if role_limited || method != "GET" {
            shared.push((
                "403",
                "`forbidden`: the caller's role may not do this; `insufficient_scope`: a read-only API key".into(),
            ));
        }
    }
    if bounded_query {
        shared.push(("422", "`out_of_range`: a query parameter is outside its documented range".into()));
    }
    if json_body {
        shared.push(("413", "`payload_too_large`: the body is over `server.max_json_bytes`".into()));
        shared.push(("415", "`unsupported_media_type`: the body is not `application/json`".into()));
        let description = "`invalid_body`: valid JSON of the wrong shape (a missing field, a wrong type)";
        match shared.iter_mut().find(|(status, _)| *status == "422") {
            Some((_, both)) => *both = format!("{description}; {both}"),
            None => shared.push(("422", description.into())),
        }
    }
    if secured {
        shared.push(("429", "`rate_limited`: too many requests; wait `Retry-After` seconds".into()));
    }
    shared.push(("500", "`internal`: an unexpected failure; quote the `request_id` to support".into()));
    for (status, description) in shared {
        op.responses.responses.entry(status.to_owned()).or_insert_with(|| error_response(description));
    }
}

fn free_text(param: &utoipa::openapi::path::Parameter) -> bool {
    let schema = serde_json::to_value(&param.schema).unwrap_or_default();
    let string = match &schema["type"] {
        serde_json::Value::String(kind) => kind == "string",
        serde_json::Value::Array(kinds) => kinds.iter().all(|k| k == "string" || k == "null"),
        _ => false,
    };
    string && schema.get("enum").is_none() && schema.get("format").is_none() && schema.get("maxLength").is_none()
}

/// OpenAPI requires a description on every response; a route that gave none gets its status's reason.
fn describe_every_response(op: &mut Operation) {
    for (status, response) in op.responses.responses.iter_mut() {
        if let RefOr::T(response) = response
            && response.description.trim().is_empty()
        {
            let reason = status
                .parse::<u16>()
                .ok()
                .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
                .and_then(|s| s.canonical_reason())
                .unwrap_or("response");
            response.description = reason.to_owned();
        }
    }
}
