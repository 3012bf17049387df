//! Classes: admins and teachers write (teachers only the classes they teach); everyone reads their own.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::auth::{AuthUser, ClientIp, RequireRole, Staff};
use crate::classes::error::ClassError;
use crate::classes::service::ClassService;
use crate::classes::views::{ClassView, CreateClass, UpdateClass};
use crate::error::ErrorBody;
use crate::http::Json;
use crate::pagination::{Page, PageQuery};

/// Create a class
///
/// Its teachers, students and tutors. A teacher who creates a class teaches it.
#[utoipa::path(post, path = "/api/v1/classes", tag = "classes", operation_id = "create_class",
    security(("bearer" = []), ("api_key" = [])), request_body = CreateClass,
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 201, description = "the new class", body = ClassView),
        (status = 422, description = "`field_required`, `field_too_long`, `unknown_user`, `wrong_role` (a student \
            as a teacher, a teacher as a student), `unknown_persona`, or `invalid_body`", body = ErrorBody)))]
pub async fn create(
    classes: web::Data<ClassService>,
    caller: RequireRole<Staff>,
    body: Json<CreateClass>,
) -> Result<HttpResponse, ClassError> {
    Ok(HttpResponse::Created().json(classes.create(&caller.user, body.into_inner()).await?))
}

/// List classes
///
/// Admins: every class of the organisation; others: the classes they teach or attend. By name.
#[utoipa::path(get, path = "/api/v1/classes", tag = "classes", operation_id = "list_classes",
    security(("bearer" = []), ("api_key" = [])), params(PageQuery), extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "one page of classes", body = Page<ClassView>)))]
pub async fn list(
    classes: web::Data<ClassService>,
    caller: AuthUser,
    page: PageQuery,
) -> Result<HttpResponse, ClassError> {
    Ok(HttpResponse::Ok().json(classes.list(&caller, &page).await?))
}

/// Get a class
///
/// Students see their own classes without the list of classmates.
#[utoipa::path(get, path = "/api/v1/classes/{id}", tag = "classes", operation_id = "get_class",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "the class", body = ClassView),
        (status = 404, description = "`not_found` (also a class the caller is not in)", body = ErrorBody)))]
pub async fn get(
    classes: web::Data<ClassService>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ClassError> {
    Ok(HttpResponse::Ok().json(classes.get(&caller, *id).await?))
}

/// Change a class
///
/// Absent fields stay as they are; a list given replaces the whole list.
#[utoipa::path(patch, path = "/api/v1/classes/{id}", tag = "classes", operation_id = "update_class",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)), request_body = UpdateClass,
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "the class as changed", body = ClassView),
        (status = 403, description = "`forbidden`: a teacher who does not teach it", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`field_required`, `field_too_long`, `unknown_user`, `wrong_role`, \
            `unknown_persona`, or `invalid_body`", body = ErrorBody)))]
pub async fn update(
    classes: web::Data<ClassService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
    body: Json<UpdateClass>,
) -> Result<HttpResponse, ClassError> {
    Ok(HttpResponse::Ok().json(classes.update(&caller.user, *id, body.into_inner()).await?))
}

/// Delete a class
///
/// Its members and tutors stay; only the grouping goes.
#[utoipa::path(delete, path = "/api/v1/classes/{id}", tag = "classes", operation_id = "delete_class",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 204, description = "deleted"),
        (status = 403, description = "`forbidden`: a teacher who does not teach it", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
pub async fn delete(
    classes: web::Data<ClassService>,
    ip: ClientIp,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ClassError> {
    classes.delete(&caller.user, &ip, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
