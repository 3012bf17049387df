//! Operations endpoints: liveness, readiness, metrics, and the operator's backup. Mounted at the root, outside
//! `/api/v1`, where load balancers and Prometheus expect them.

pub mod backups;
pub mod cli;
pub mod demo;
mod routes;
pub mod status;

use actix_web::web;
use utoipa::OpenApi;

pub use routes::{Check, Health, Readiness};

#[derive(OpenApi)]
#[openapi(paths(routes::healthz, routes::readyz, routes::metrics, backups::create), components(schemas(Health, Readiness, Check)),
    tags((name = "ops", description = "Liveness, readiness, metrics, backups")))]
pub struct OpsApi;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // One resource per path, so a known path with the wrong method answers 405, not 404.
    cfg.service(web::resource("/healthz").get(routes::healthz))
        .service(web::resource("/readyz").get(routes::readyz))
        .service(web::resource("/metrics").get(routes::metrics))
        .service(web::resource("/ops/backup").post(backups::create));
}
