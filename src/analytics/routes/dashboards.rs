//! Dashboards: teachers see their classes' students, admins everyone; students are refused.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::analytics::error::AnalyticsError;
use crate::analytics::service::AnalyticsService;
use crate::analytics::views::{Groups, Overview, Period, PersonaReport, StudentReport, StudentRow};
use crate::auth::{RequireRole, Staff};
use crate::error::ErrorBody;
use crate::pagination::{Page, PageQuery};

/// Analytics overview
///
/// Active students, messages and sessions per day, the median session, the most-used tutors, the most-cited
/// documents and the latest questions the material did not cover, for a class or everyone the caller oversees.
#[utoipa::path(get, path = "/api/v1/analytics/overview", tag = "analytics", operation_id = "analytics_overview",
    security(("bearer" = []), ("api_key" = [])), params(Period), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "the overview", body = Overview),
        (status = 404, description = "`not_found`: a class the caller does not teach", body = ErrorBody),
        (status = 422, description = "`invalid_period`: `from` after `to`, longer than 366 days, or outside 1970-9999", body = ErrorBody)))]
pub async fn overview(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Staff>,
    period: web::Query<Period>,
) -> Result<HttpResponse, AnalyticsError> {
    Ok(HttpResponse::Ok().json(analytics.overview(&caller.user, &period).await?))
}

/// Students' activity
///
/// Every student the caller oversees (or of the class), by name, with their activity in the period.
#[utoipa::path(get, path = "/api/v1/analytics/students", tag = "analytics", operation_id = "analytics_students",
    security(("bearer" = []), ("api_key" = [])), params(Period, PageQuery),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "one page of students", body = Page<StudentRow>),
        (status = 404, description = "`not_found`: a class the caller does not teach", body = ErrorBody),
        (status = 422, description = "`invalid_period`: `from` after `to`, longer than 366 days, or outside 1970-9999", body = ErrorBody)))]
pub async fn students(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Staff>,
    period: web::Query<Period>,
    page: PageQuery,
) -> Result<HttpResponse, AnalyticsError> {
    Ok(HttpResponse::Ok().json(analytics.students(&caller.user, &period, &page).await?))
}

/// One student's progress
///
/// Sessions, messages, documents and topics, streak and last activity, and their latest sessions (each
/// transcript at `GET /sessions/{id}/messages`).
#[utoipa::path(get, path = "/api/v1/analytics/students/{id}", tag = "analytics", operation_id = "analytics_student",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path), Period),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "the student's report", body = StudentReport),
        (status = 404, description = "`not_found`: not a student the caller oversees", body = ErrorBody),
        (status = 422, description = "`invalid_period`: `from` after `to`, longer than 366 days, or outside 1970-9999", body = ErrorBody)))]
pub async fn student(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
    period: web::Query<Period>,
) -> Result<HttpResponse, AnalyticsError> {
    Ok(HttpResponse::Ok().json(analytics.student(&caller.user, *id, &period).await?))
}

/// One tutor's use
///
/// Sessions, messages, students, how questions were answered, latency, tokens, cited documents and the questions
/// it could not answer.
#[utoipa::path(get, path = "/api/v1/analytics/personas/{id}", tag = "analytics", operation_id = "analytics_persona",
    security(("bearer" = []), ("api_key" = [])), params(("id" = Uuid, Path), Period),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "the tutor's report", body = PersonaReport),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_period`: `from` after `to`, longer than 366 days, or outside 1970-9999", body = ErrorBody)))]
pub async fn persona(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Staff>,
    id: web::Path<Uuid>,
    period: web::Query<Period>,
) -> Result<HttpResponse, AnalyticsError> {
    Ok(HttpResponse::Ok().json(analytics.persona(&caller.user, *id, &period).await?))
}

/// Where the class is stuck
///
/// The questions of the period grouped by meaning, groups of two or more questions, the most students first:
/// each with its size, examples, whether the tutor could answer, and what it cited.
#[utoipa::path(get, path = "/api/v1/analytics/stuck", tag = "analytics", operation_id = "analytics_stuck",
    security(("bearer" = []), ("api_key" = [])), params(Period), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "the groups", body = Groups),
        (status = 404, description = "`not_found`: a class the caller does not teach", body = ErrorBody),
        (status = 422, description = "`invalid_period`: `from` after `to`, longer than 366 days, or outside 1970-9999", body = ErrorBody)))]
pub async fn stuck(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Staff>,
    period: web::Query<Period>,
) -> Result<HttpResponse, AnalyticsError> {
    Ok(HttpResponse::Ok().json(analytics.stuck(&caller.user, &period).await?))
}

/// Gaps in the material
///
/// The questions the material did not cover, grouped by meaning, largest first: what to upload next.
#[utoipa::path(get, path = "/api/v1/analytics/gaps", tag = "analytics", operation_id = "analytics_gaps",
    security(("bearer" = []), ("api_key" = [])), params(Period), extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "the groups", body = Groups),
        (status = 404, description = "`not_found`: a class the caller does not teach", body = ErrorBody),
        (status = 422, description = "`invalid_period`: `from` after `to`, longer than 366 days, or outside 1970-9999", body = ErrorBody)))]
pub async fn gaps(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Staff>,
    period: web::Query<Period>,
) -> Result<HttpResponse, AnalyticsError> {
    Ok(HttpResponse::Ok().json(analytics.gaps(&caller.user, &period).await?))
}
