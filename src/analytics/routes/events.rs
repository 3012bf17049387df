//! The web app's own events.

use actix_web::{HttpResponse, web};

use crate::analytics::error::AnalyticsError;
use crate::analytics::service::AnalyticsService;
use crate::analytics::views::{Accepted, ClientEvents};
use crate::auth::AuthUser;
use crate::error::ErrorBody;
use crate::http::Json;

/// Record client events
///
/// What the web app saw (a page viewed, a citation opened, an answer rated, the avatar loaded or failed), 1 to 20
/// per request, types from an allow-list. Stored in the background; counted against a per-person rate limit.
#[utoipa::path(post, path = "/api/v1/events", tag = "analytics", operation_id = "record_events",
    security(("bearer" = []), ("api_key" = [])), request_body = ClientEvents,
    extensions(("x-min-role" = json!("student"))),
    responses((status = 202, description = "accepted for recording", body = Accepted),
        (status = 422, description = "`invalid_event` (unknown type, too many, data too large) or `invalid_body`",
            body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody)))]
pub async fn record(
    analytics: web::Data<AnalyticsService>,
    caller: AuthUser,
    body: Json<ClientEvents>,
) -> Result<HttpResponse, AnalyticsError> {
    let accepted = analytics.client_events(&caller, body.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(Accepted { accepted }))
}
