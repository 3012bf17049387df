//! Personas: teachers and admins write; everyone in the org reads (students without the instructions).

use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::error::PersonaError;
use super::service;
use super::views::{CreatePersona, Fields, PersonaView, UpdatePersona};
use crate::app::AppState;
use crate::auth::audit::{self, Entry, client_ip};
use crate::auth::{AuthUser, RequireRole, Role, Staff};
use crate::pagination::{Page, PageQuery};

fn staff(caller: &AuthUser) -> bool {
    caller.role.at_least(Role::Teacher)
}

#[utoipa::path(post, path = "/api/v1/personas", tag = "personas", security(("bearer" = [])),
    request_body = CreatePersona, extensions(("x-min-role" = json!("teacher"))),
    responses((status = 201, body = PersonaView), (status = 403, body = crate::error::ErrorBody),
        (status = 422, description = "`field_required`, `field_too_long`, `out_of_range`, `unknown_collection`, \
            or `invalid_body` (e.g. an unknown teaching_mode)", body = crate::error::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: RequireRole<Staff>,
    body: web::Json<CreatePersona>,
) -> Result<HttpResponse, PersonaError> {
    let caller = caller.user;
    let fields = Fields::from_create(body.into_inner())?;
    let persona = service::create(&state, caller.org_id, caller.user_id, fields).await?;
    Ok(HttpResponse::Created().json(PersonaView::new(persona, true)))
}

#[utoipa::path(get, path = "/api/v1/personas", tag = "personas", security(("bearer" = [])), params(PageQuery),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, body = Page<PersonaView>)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, PersonaError> {
    let (personas, total) = service::list(&state, caller.org_id, &page).await?;
    let items = personas.into_iter().map(|p| PersonaView::new(p, staff(&caller))).collect();
    Ok(HttpResponse::Ok().json(Page { items, page: page.page(), per_page: page.per_page(), total }))
}

#[utoipa::path(get, path = "/api/v1/personas/{id}", tag = "personas", security(("bearer" = [])),
    params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("student"))),
    responses((status = 200, body = PersonaView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, PersonaError> {
    let persona = service::find(&state, caller.org_id, *id).await?;
    Ok(HttpResponse::Ok().json(PersonaView::new(persona, staff(&caller))))
}

#[utoipa::path(patch, path = "/api/v1/personas/{id}", tag = "personas", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdatePersona, extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, body = PersonaView), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
    body: web::Json<UpdatePersona>,
) -> Result<HttpResponse, PersonaError> {
    // Found first: another org's id answers 404 whatever the body says.
    let current = service::find(&state, caller.user.org_id, *id).await?;
    let fields = Fields::from_update(&current, body.into_inner())?;
    let persona = service::update(&state, &current, fields).await?;
    Ok(HttpResponse::Ok().json(PersonaView::new(persona, true)))
}

#[utoipa::path(delete, path = "/api/v1/personas/{id}", tag = "personas", security(("bearer" = [])),
    params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 204, description = "deleted"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, PersonaError> {
    let caller = caller.user;
    let name = service::delete(&state, caller.org_id, *id).await?;
    audit::record(
        &state.db,
        Entry {
            org_id: Some(caller.org_id),
            actor_id: Some(caller.user_id),
            action: "persona.deleted",
            target_type: Some("persona"),
            target_id: Some(id.to_string()),
            ip: Some(client_ip(&req, state.settings.server.trust_proxy_headers)),
            details: serde_json::json!({ "name": name }),
        },
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
