//! People of an organisation: list and search, change role, deactivate, delete.
//!
//! Deleting a user removes their account, credentials and sessions at once. What they produced elsewhere
//! follows each domain's rule: their chat sessions and messages are deleted with them (a student's
//! conversations are personal data), content they uploaded stays with the organisation, and the audit log
//! keeps their id (an opaque UUID) but no name or email.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, ModelTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Role;
use super::audit::{self, Entry, client_ip};
use super::entities::{refresh_token, user};
use super::error::AuthError;
use super::extract::{Admin, RequireRole, Staff};
use super::session::revoke_tokens;
use super::views::{UserView, require_text};
use crate::app::AppState;
use crate::pagination::{Page, PageQuery};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Matches name or email, case-insensitively.
    pub q: Option<String>,
    pub role: Option<Role>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUser {
    pub name: Option<String>,
    pub role: Option<Role>,
    /// `false` deactivates: sign-in and refresh stop at once; access tokens already issued lapse within 15 min.
    pub active: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(PageQuery, UserFilter),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, body = Page<UserView>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: RequireRole<Staff>,
    page: web::Query<PageQuery>,
    filter: web::Query<UserFilter>,
) -> Result<HttpResponse, AuthError> {
    let mut query = user::Entity::find().filter(user::Column::OrgId.eq(caller.user.org_id));
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
        query = query.filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(user::Column::Name))).like(pattern.clone()))
                .add(user::Column::Email.like(pattern)),
        );
    }
    if let Some(role) = filter.role {
        query = query.filter(user::Column::Role.eq(role.as_str()));
    }
    let paginator = query.order_by_asc(user::Column::Name).paginate(&state.db, page.per_page());
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page.index()).await?.into_iter().map(UserView::from).collect();
    Ok(HttpResponse::Ok().json(Page { items, page: page.page(), per_page: page.per_page(), total }))
}

/// Finds a user of the caller's org. Another org's id is simply not found.
async fn find_in_org(state: &AppState, org_id: Uuid, id: Uuid) -> Result<user::Model, AuthError> {
    user::Entity::find_by_id(id)
        .filter(user::Column::OrgId.eq(org_id))
        .one(&state.db)
        .await?
        .ok_or(AuthError::NotFound("user"))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, body = UserView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Ok().json(UserView::from(find_in_org(&state, caller.user.org_id, *id).await?)))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateUser, extensions(("x-min-role" = json!("admin"))),
    responses((status = 200, body = UserView), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: RequireRole<Admin>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateUser>,
) -> Result<HttpResponse, AuthError> {
    let caller = caller.user;
    let target = find_in_org(&state, caller.org_id, *id).await?;
    let body = body.into_inner();
    if target.id == caller.user_id && (body.role.is_some_and(|r| r != Role::Admin) || body.active == Some(false)) {
        // Keeps at least the acting admin in charge; another admin can demote them.
        return Err(AuthError::Conflict("admins cannot demote or deactivate themselves".into()));
    }
    let mut changes: user::ActiveModel = target.clone().into();
    if let Some(name) = &body.name {
        changes.name = Set(require_text("name", name, 200)?);
    }
    if let Some(role) = body.role {
        changes.role = Set(role.as_str().into());
    }
    if let Some(active) = body.active {
        changes.active = Set(active);
    }
    changes.updated_at = Set(Utc::now());
    let updated = changes.update(&state.db).await?;
    let ip = client_ip(&req, state.settings.server.trust_proxy_headers);
    if body.role.is_some_and(|r| r.as_str() != target.role) {
        audit::record(
            &state.db,
            Entry {
                org_id: Some(caller.org_id),
                actor_id: Some(caller.user_id),
                action: "user.role_changed",
                target_type: Some("user"),
                target_id: Some(target.id.to_string()),
                ip: Some(ip.clone()),
                details: serde_json::json!({ "from": target.role, "to": updated.role }),
            },
        )
        .await;
    }
    if let Some(active) = body.active.filter(|a| *a != target.active) {
        if !active {
            revoke_tokens(&state, Condition::all().add(refresh_token::Column::UserId.eq(target.id))).await?;
        }
        let action = if active { "user.reactivated" } else { "user.deactivated" };
        audit::record(
            &state.db,
            Entry {
                org_id: Some(caller.org_id),
                actor_id: Some(caller.user_id),
                action,
                target_type: Some("user"),
                target_id: Some(target.id.to_string()),
                ip: Some(ip),
                ..Entry::default()
            },
        )
        .await;
    }
    Ok(HttpResponse::Ok().json(UserView::from(updated)))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("admin"))),
    responses((status = 204, description = "deleted"), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: RequireRole<Admin>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AuthError> {
    let caller = caller.user;
    let target = find_in_org(&state, caller.org_id, *id).await?;
    if target.id == caller.user_id {
        return Err(AuthError::Conflict("admins cannot delete themselves".into()));
    }
    refresh_token::Entity::delete_many().filter(refresh_token::Column::UserId.eq(target.id)).exec(&state.db).await?;
    let target_id = target.id;
    target.delete(&state.db).await?;
    audit::record(
        &state.db,
        Entry {
            org_id: Some(caller.org_id),
            actor_id: Some(caller.user_id),
            action: "user.deleted",
            target_type: Some("user"),
            target_id: Some(target_id.to_string()),
            ip: Some(client_ip(&req, state.settings.server.trust_proxy_headers)),
            ..Entry::default()
        },
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
