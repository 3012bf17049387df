//! Operations endpoints: liveness, readiness, metrics. Mounted at the root, outside `/api/v1`, where load
//! balancers and Prometheus expect them.

mod routes;

use actix_web::web;
use utoipa::OpenApi;

pub use routes::{Check, Readiness};

#[derive(OpenApi)]
#[openapi(paths(routes::healthz, routes::readyz, routes::metrics), components(schemas(Readiness, Check)))]
pub struct OpsApi;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(routes::healthz))
        .route("/readyz", web::get().to(routes::readyz))
        .route("/metrics", web::get().to(routes::metrics));
}
