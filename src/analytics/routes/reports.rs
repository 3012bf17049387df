//! The weekly report, as JSON, CSV or a printable HTML page.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::analytics::error::AnalyticsError;
use crate::analytics::report;
use crate::analytics::service::AnalyticsService;
use crate::analytics::views::{ReportQuery, WeeklyReport};
use crate::auth::{RequireRole, Staff};
use crate::error::ErrorBody;

/// `format=` wins; else the first of CSV or HTML the `Accept` header names; else JSON.
fn format(req: &HttpRequest, query: &ReportQuery) -> Result<&'static str, AnalyticsError> {
    if let Some(format) = query.format.as_deref() {
        return match format {
            "json" => Ok("json"),
            "csv" => Ok("csv"),
            "html" => Ok("html"),
            _ => Err(AnalyticsError::invalid("invalid_format", "format is `json`, `csv` or `html`")),
        };
    }
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    Ok(if accept.contains("text/csv") {
        "csv"
    } else if accept.contains("text/html") {
        "html"
    } else {
        "json"
    })
}

/// Weekly report
///
/// One ISO week (default: the last full one) of a class or of everyone the caller oversees: engagement, a
/// per-student table, where students were stuck and what the material did not cover. JSON, CSV
/// (`Accept: text/csv` or `format=csv`) or a printable HTML page with charts (`Accept: text/html`, `format=html`).
#[utoipa::path(get, path = "/api/v1/analytics/reports/weekly", tag = "analytics",
    operation_id = "analytics_weekly_report", security(("bearer" = []), ("api_key" = [])), params(ReportQuery),
    extensions(("x-min-role" = json!("teacher"))),
    responses((status = 200, description = "the report",
            content((WeeklyReport = "application/json"), (String = "text/csv"), (String = "text/html"))),
        (status = 404, description = "`not_found`: a class the caller does not teach", body = ErrorBody),
        (status = 422, description = "`invalid_week` or `invalid_format`", body = ErrorBody)))]
pub async fn weekly(
    analytics: web::Data<AnalyticsService>,
    caller: RequireRole<Staff>,
    req: HttpRequest,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AnalyticsError> {
    let format = format(&req, &query)?;
    let report = analytics.weekly(&caller.user, query.week.as_deref(), query.class_id).await?;
    let file = format!("bwenge-report-{}", report.week);
    Ok(match format {
        "csv" => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}.csv\"")))
            .body(report::csv(&report)),
        // Inline styles and SVG only, no script: the page's own policy says so.
        "html" => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
            ))
            .body(report::html(&report)),
        _ => HttpResponse::Ok().json(report),
    })
}
