//! Search over the organisation's material.

use actix_web::{HttpResponse, web};

use crate::auth::AuthUser;
use crate::error::ErrorBody;
use crate::http::Json;
use crate::ingest::error::IngestError;
use crate::ingest::service::IngestService;
use crate::ingest::views::{SearchRequest, SearchResponse};

/// Search the material
///
/// The best passages for a query among the given collections (every collection of the organisation if none).
#[utoipa::path(post, path = "/api/v1/search", tag = "knowledge", operation_id = "search",
    security(("bearer" = []), ("api_key" = [])), request_body = SearchRequest,
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "the passages, best first", body = SearchResponse),
        (status = 404, description = "`not_found`: a collection is not the organisation's", body = ErrorBody),
        (status = 422, description = "`invalid_request` (an empty or too long query, too many collections, top_k \
            out of range) or `invalid_body`",
            body = ErrorBody)))]
pub async fn search(
    ingest: web::Data<IngestService>,
    caller: AuthUser,
    body: Json<SearchRequest>,
) -> Result<HttpResponse, IngestError> {
    // Out of range is refused by the service; a number too big for this machine's word is out of range too.
    let top_k = usize::try_from(body.top_k.unwrap_or(5)).unwrap_or(usize::MAX);
    Ok(HttpResponse::Ok().json(ingest.search(caller.org_id, &body.collection_ids, &body.query, top_k).await?))
}
