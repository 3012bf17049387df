//! Collections: teachers and admins write; everyone in the org reads.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::auth::{AuthUser, RequireRole, Staff};
use crate::error::ErrorBody;
use crate::http::Json;
use crate::ingest::error::IngestError;
use crate::ingest::service::IngestService;
use crate::ingest::views::{CollectionView, CreateCollection, UpdateCollection};
use crate::pagination::{Page, PageQuery};

/// Create a collection
#[utoipa::path(post, path = "/api/v1/collections", tag = "knowledge", operation_id = "create_collection",
    security(("bearer" = []), ("api_key" = [])), request_body = CreateCollection,
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 201, description = "the new collection", body = CollectionView),
        (status = 422, description = "`invalid_request` (an empty or too long name) or `invalid_body`",
            body = ErrorBody)))]
pub async fn create(
    ingest: web::Data<IngestService>,
    caller: RequireRole<Staff>,
    body: Json<CreateCollection>,
) -> Result<HttpResponse, IngestError> {
    Ok(HttpResponse::Created().json(ingest.create_collection(&caller.user, &body).await?))
}

/// List collections
///
/// The organisation's collections by name, with their document counts.
#[utoipa::path(get, path = "/api/v1/collections", tag = "knowledge", operation_id = "list_collections",
    security(("bearer" = []), ("api_key" = [])), params(PageQuery), extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "one page of collections", body = Page<CollectionView>)))]
pub async fn list(
    ingest: web::Data<IngestService>,
    caller: AuthUser,
    page: PageQuery,
) -> Result<HttpResponse, IngestError> {
    Ok(HttpResponse::Ok().json(ingest.list_collections(&caller, &page).await?))
}

/// Get a collection
#[utoipa::path(get, path = "/api/v1/collections/{id}", tag = "knowledge", operation_id = "get_collection",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "the collection", body = CollectionView),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
pub async fn get(
    ingest: web::Data<IngestService>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, IngestError> {
    Ok(HttpResponse::Ok().json(ingest.get_collection(&caller, *id).await?))
}

/// Rename or describe a collection
#[utoipa::path(patch, path = "/api/v1/collections/{id}", tag = "knowledge", operation_id = "update_collection",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)), request_body = UpdateCollection,
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "the collection as changed", body = CollectionView),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_request` (an empty or too long name) or `invalid_body`",
            body = ErrorBody)))]
pub async fn update(
    ingest: web::Data<IngestService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
    body: Json<UpdateCollection>,
) -> Result<HttpResponse, IngestError> {
    Ok(HttpResponse::Ok().json(ingest.update_collection(&caller.user, *id, &body).await?))
}

/// Delete a collection
///
/// Deletes the collection with its documents: their chunks, vectors and files go too.
#[utoipa::path(delete, path = "/api/v1/collections/{id}", tag = "knowledge", operation_id = "delete_collection",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 204, description = "deleted"), (status = 404, description = "`not_found`", body = ErrorBody)))]
pub async fn delete(
    ingest: web::Data<IngestService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, IngestError> {
    ingest.delete_collection(&caller.user, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
