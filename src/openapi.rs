//! The OpenAPI 3.1 document: each domain's `#[derive(OpenApi)]` merged into one, served at
//! `/api/openapi.json` with a docs UI at `/api/docs` whose assets are compiled into the binary.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail};

#[derive(OpenApi)]
#[openapi(
    info(title = "Bwenge API", description = "Self-hosted AI-tutor platform. Errors always have the shape \
        `{\"error\":{\"code\",\"message\",\"request_id\"}}`; `code` is stable."),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth),
    tags((name = "ops", description = "Liveness, readiness, metrics"))
)]
struct BaseApi;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = BaseApi::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.merge(crate::ops::OpsApi::openapi());
    doc.merge(crate::auth::AuthApi::openapi());
    doc.merge(crate::ingest::IngestApi::openapi());
    doc.merge(crate::persona::PersonaApi::openapi());
    doc.merge(crate::chat::ChatApi::openapi());
    doc
}
