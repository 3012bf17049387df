//! Safety alerts (teachers and admins, each their own) and the org's oversight settings.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::analytics::error::AnalyticsError;
use crate::analytics::service::AnalyticsService;
use crate::analytics::views::{AlertFilter, AlertSummary, AlertView, OversightSettings};
use crate::auth::{Admin, RequireRole, Staff};
use crate::error::ErrorBody;
use crate::http::Json;
use crate::pagination::{Page, PageQuery};

/// List my safety alerts
///
/// The flags on students' messages the caller was told of, newest first: a class teacher for any flag on their
/// students, a designated admin for high ones.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "analytics", operation_id = "list_alerts",
    security(("bearer" = []), ("api_key" = [])), params(AlertFilter, PageQuery),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "one page of alerts", body = Page<AlertView>)))]
pub async fn list(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Staff>,
    filter: web::Query<AlertFilter>,
    page: PageQuery,
) -> Result<HttpResponse, AnalyticsError> {
    Ok(HttpResponse::Ok().json(analytics.alerts(&caller.user, filter.unread, &page).await?))
}

/// Count my unread alerts
#[utoipa::path(get, path = "/api/v1/alerts/summary", tag = "analytics", operation_id = "alert_summary",
    security(("bearer" = []), ("api_key" = [])), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "unread alerts", body = AlertSummary)))]
pub async fn summary(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Staff>,
) -> Result<HttpResponse, AnalyticsError> {
    Ok(HttpResponse::Ok().json(analytics.alert_summary(&caller.user).await?))
}

/// Mark an alert read
#[utoipa::path(post, path = "/api/v1/alerts/{id}/read", tag = "analytics", operation_id = "read_alert",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path)),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 204, description = "read"),
        (status = 404, description = "`not_found`: not one of the caller's alerts", body = ErrorBody)))]
pub async fn read(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AnalyticsError> {
    analytics.read_alert(&caller.user, Some(*id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mark all my alerts read
#[utoipa::path(post, path = "/api/v1/alerts/read-all", tag = "analytics", operation_id = "read_all_alerts",
    security(("bearer" = []), ("api_key" = [])), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 204, description = "all read")))]
pub async fn read_all(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Staff>,
) -> Result<HttpResponse, AnalyticsError> {
    analytics.read_alert(&caller.user, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Get the oversight settings
///
/// The org's time zone, whether teachers may read transcripts, the safety list and the admins told of high
/// flags. An org that never saved them has the defaults.
#[utoipa::path(get, path = "/api/v1/analytics/settings", tag = "analytics", operation_id = "get_oversight_settings",
    security(("bearer" = []), ("api_key" = [])), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "the settings", body = OversightSettings)))]
pub async fn settings(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Staff>,
) -> Result<HttpResponse, AnalyticsError> {
    Ok(HttpResponse::Ok().json(analytics.settings(&caller.user).await?))
}

/// Change the oversight settings
#[utoipa::path(put, path = "/api/v1/analytics/settings", tag = "analytics",
    operation_id = "update_oversight_settings", security(("bearer" = []), ("api_key" = [])),
    request_body = OversightSettings, extensions(("x-min-role" = json!("admin"))),
    responses((status = 200, description = "the settings", body = OversightSettings),
        (status = 422, description = "`invalid_time_zone`, `invalid_safety_term`, `unknown_user` (not an admin) or \
            `invalid_body`", body = ErrorBody)))]
pub async fn update_settings(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Admin>,
    body: Json<OversightSettings>,
) -> Result<HttpResponse, AnalyticsError> {
    Ok(HttpResponse::Ok().json(analytics.update_settings(&caller.user, body.into_inner()).await?))
}
