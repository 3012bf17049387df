use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AuthUser, Role};
use crate::error::ErrorBody;

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub role: Role,
}

/// The caller, as the access token names them.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(Me { user_id: user.user_id, org_id: user.org_id, role: user.role })
}
