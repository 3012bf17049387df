//! The audit log, for admins.

use actix_web::{HttpResponse, web};

use crate::auth::error::AuthError;
use crate::auth::extractors::{Admin, RequireRole};
use crate::auth::service::AuthService;
use crate::auth::views::{AuditEntry, AuditFilter};
use crate::pagination::{Page, PageQuery};

/// Read the audit log
///
/// Security-relevant actions in the organisation, newest first. The database refuses to change or delete them.
#[utoipa::path(get, path = "/api/v1/audit", tag = "auth", operation_id = "list_audit_entries",
    security(("bearer" = [])), params(PageQuery, AuditFilter),
    extensions(("x-min-role" = json!("admin"))),
    responses((status = 200, description = "one page of entries", body = Page<AuditEntry>)))]
pub async fn list(
    auth: web::Data<AuthService>,
    caller: RequireRole<Admin>,
    page: PageQuery,
    filter: web::Query<AuditFilter>,
) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Ok().json(auth.audit_log(&caller.user, &filter, &page).await?))
}
