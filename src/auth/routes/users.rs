//! People of an organisation.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::auth::error::AuthError;
use crate::auth::extractors::{Admin, ClientIp, RequireRole, Staff};
use crate::auth::service::AuthService;
use crate::auth::views::{UpdateUser, UserFilter, UserView};
use crate::error::ErrorBody;
use crate::http::Json;
use crate::pagination::{Page, PageQuery};

/// List people
///
/// The organisation's people by name, optionally searched and filtered by role.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", operation_id = "list_users",
    security(("bearer" = []), ("api_key" = [])), params(PageQuery, UserFilter),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "one page of people", body = Page<UserView>)))]
pub async fn list(
    auth: web::Data<AuthService>,
    caller: RequireRole<Staff>,
    page: PageQuery,
    filter: web::Query<UserFilter>,
) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Ok().json(auth.list_users(&caller.user, &filter, &page).await?))
}

/// Get a person
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", operation_id = "get_user",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "the person", body = UserView),
        (status = 404, description = "`not_found`: no such person in the caller's organisation", body = ErrorBody)))]
pub async fn get(
    auth: web::Data<AuthService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Ok().json(auth.get_user(&caller.user, *id).await?))
}

/// Change a person
///
/// Renames, changes the role, or (de)activates. Deactivation stops sign-in and refresh at once.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", operation_id = "update_user",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateUser,
    extensions(("x-min-role" = json!("admin"))),
    responses((status = 200, description = "the person as changed", body = UserView),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`conflict`: admins cannot demote or deactivate themselves", body = ErrorBody),
        (status = 422, description = "`invalid_request` (an empty or too long name) or `invalid_body`",
            body = ErrorBody)))]
pub async fn update(
    auth: web::Data<AuthService>,
    ip: ClientIp,
    caller: RequireRole<Admin>,
    id: web::Path<Uuid>,
    body: Json<UpdateUser>,
) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Ok().json(auth.update_user(&caller.user, &ip, *id, body.into_inner()).await?))
}

/// Delete a person
///
/// Removes the account, its credentials and its chats; material they uploaded stays with the organisation.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", operation_id = "delete_user",
    security(("bearer" = [])), params(("id" = Uuid, Path)), extensions(("x-min-role" = json!("admin"))),
    responses((status = 204, description = "deleted"),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`conflict`: admins cannot delete themselves", body = ErrorBody)))]
pub async fn delete(
    auth: web::Data<AuthService>,
    ip: ClientIp,
    caller: RequireRole<Admin>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AuthError> {
    auth.delete_user(&caller.user, &ip, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
