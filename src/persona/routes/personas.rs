//! Personas: teachers and admins write; everyone in the org reads (students without the instructions).

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::auth::{AuthUser, ClientIp, RequireRole, Staff};
use crate::error::ErrorBody;
use crate::http::Json;
use crate::pagination::{Page, PageQuery};
use crate::persona::error::PersonaError;
use crate::persona::service::PersonaService;
use crate::persona::views::{CreatePersona, PersonaView, UpdatePersona};

/// Create a persona
///
/// A tutor on some of the organisation's collections, with a tone, instructions, a teaching mode, a greeting and
/// model settings.
#[utoipa::path(post, path = "/api/v1/personas", tag = "personas", operation_id = "create_persona",
    security(("bearer" = []), ("api_key" = [])), request_body = CreatePersona,
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 201, description = "the new persona", body = PersonaView),
        (status = 402, description = "`quota_exceeded`: the plan's persona limit is reached", body = ErrorBody),
        (status = 422, description = "`field_required`, `field_too_long`, `out_of_range`, `unknown_collection`, \
            `unknown_avatar`, or `invalid_body` (e.g. an unknown teaching_mode)", body = ErrorBody)))]
pub async fn create(
    personas: web::Data<PersonaService>,
    caller: RequireRole<Staff>,
    body: Json<CreatePersona>,
) -> Result<HttpResponse, PersonaError> {
    Ok(HttpResponse::Created().json(personas.create(&caller.user, body.into_inner()).await?))
}

/// List personas
///
/// The organisation's tutors by name; students see them without the instructions.
#[utoipa::path(get, path = "/api/v1/personas", tag = "personas", operation_id = "list_personas",
    security(("bearer" = []), ("api_key" = [])), params(PageQuery), extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "one page of personas", body = Page<PersonaView>)))]
pub async fn list(
    personas: web::Data<PersonaService>,
    caller: AuthUser,
    page: PageQuery,
) -> Result<HttpResponse, PersonaError> {
    Ok(HttpResponse::Ok().json(personas.list(&caller, &page).await?))
}

/// Get a persona
#[utoipa::path(get, path = "/api/v1/personas/{id}", tag = "personas", operation_id = "get_persona",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "the persona", body = PersonaView),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
pub async fn get(
    personas: web::Data<PersonaService>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, PersonaError> {
    Ok(HttpResponse::Ok().json(personas.get(&caller, *id).await?))
}

/// Change a persona
///
/// Absent fields stay as they are; `avatar_id` and `model` may be set to `null` to clear them.
#[utoipa::path(patch, path = "/api/v1/personas/{id}", tag = "personas", operation_id = "update_persona",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)), request_body = UpdatePersona,
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "the persona as changed", body = PersonaView),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`field_required`, `field_too_long`, `out_of_range`, `unknown_collection`, \
            `unknown_avatar`, or `invalid_body`", body = ErrorBody)))]
pub async fn update(
    personas: web::Data<PersonaService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
    body: Json<UpdatePersona>,
) -> Result<HttpResponse, PersonaError> {
    Ok(HttpResponse::Ok().json(personas.update(&caller.user, *id, body.into_inner()).await?))
}

/// Delete a persona
#[utoipa::path(delete, path = "/api/v1/personas/{id}", tag = "personas", operation_id = "delete_persona",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 204, description = "deleted"), (status = 404, description = "`not_found`", body = ErrorBody)))]
pub async fn delete(
    personas: web::Data<PersonaService>,
    ip: ClientIp,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, PersonaError> {
    personas.delete(&caller.user, &ip, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
