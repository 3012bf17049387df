//! Collections: named sets of documents a persona draws on. Teachers and admins write; everyone in the org reads.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::entities::{collection, document};
use super::error::IngestError;
use super::service;
use crate::app::AppState;
use crate::auth::{AuthUser, RequireRole, Staff};
use crate::pagination::{Page, PageQuery};

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateCollection {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateCollection {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub document_count: u64,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

fn name_of(value: &str) -> Result<String, IngestError> {
    let name = value.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(IngestError::Invalid("name must be 1 to 200 characters".into()));
    }
    Ok(name.to_owned())
}

async fn view(state: &AppState, row: collection::Model) -> Result<CollectionView, IngestError> {
    let document_count =
        document::Entity::find().filter(document::Column::CollectionId.eq(row.id)).count(&state.db).await?;
    Ok(CollectionView {
        id: row.id,
        name: row.name,
        description: row.description,
        document_count,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[utoipa::path(post, path = "/api/v1/collections", tag = "knowledge", security(("bearer" = [])),
    request_body = CreateCollection, extensions(("x-min-role" = json!("teacher"))),
    responses((status = 201, body = CollectionView), (status = 403, body = crate::error::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: RequireRole<Staff>,
    body: web::Json<CreateCollection>,
) -> Result<HttpResponse, IngestError> {
    let now = Utc::now();
    let row = collection::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(caller.user.org_id),
        name: Set(name_of(&body.name)?),
        description: Set(body.description.trim().chars().take(2000).collect()),
        created_by: Set(caller.user.user_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    Ok(HttpResponse::Created().json(view(&state, row).await?))
}

#[utoipa::path(get, path = "/api/v1/collections", tag = "knowledge", security(("bearer" = [])), params(PageQuery),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, body = Page<CollectionView>)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, IngestError> {
    let paginator = collection::Entity::find()
        .filter(collection::Column::OrgId.eq(caller.org_id))
        .order_by_asc(collection::Column::Name)
        .paginate(&state.db, page.per_page());
    let total = paginator.num_items().await?;
    let mut items = Vec::new();
    for row in paginator.fetch_page(page.index()).await? {
        items.push(view(&state, row).await?);
    }
    Ok(HttpResponse::Ok().json(Page { items, page: page.page(), per_page: page.per_page(), total }))
}

#[utoipa::path(get, path = "/api/v1/collections/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("student"))),
    responses((status = 200, body = CollectionView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, IngestError> {
    let row = service::find_collection(&state, caller.org_id, *id).await?;
    Ok(HttpResponse::Ok().json(view(&state, row).await?))
}

#[utoipa::path(patch, path = "/api/v1/collections/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateCollection, extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, body = CollectionView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateCollection>,
) -> Result<HttpResponse, IngestError> {
    let row = service::find_collection(&state, caller.user.org_id, *id).await?;
    let mut changes: collection::ActiveModel = row.into();
    if let Some(name) = &body.name {
        changes.name = Set(name_of(name)?);
    }
    if let Some(description) = &body.description {
        changes.description = Set(description.trim().chars().take(2000).collect());
    }
    changes.updated_at = Set(Utc::now());
    let row = changes.update(&state.db).await?;
    Ok(HttpResponse::Ok().json(view(&state, row).await?))
}

/// Deletes the collection with its documents: their chunks, vectors and files go too.
#[utoipa::path(delete, path = "/api/v1/collections/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 204, description = "deleted"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, IngestError> {
    let row = service::find_collection(&state, caller.user.org_id, *id).await?;
    service::delete_collection(&state, row).await?;
    Ok(HttpResponse::NoContent().finish())
}
