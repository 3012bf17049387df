//! Knowledge ingest and search: collections, document upload and processing on the durable job queue
//! ([`pipeline`]: extract, chunk, embed, index), and hybrid (dense + BM25) retrieval. Other domains use
//! [`IngestService`].

mod entities;
mod error;
mod pipeline;
mod progress;
mod retrieval;
mod routes;
pub mod service;
mod store;
mod sweep;
mod unmatched;
pub mod views;

use std::sync::Arc;

use actix_web::web;
use utoipa::OpenApi;

pub use error::IngestError;
pub use service::IngestService;

use crate::billing::BillingService;
use crate::platform::Backends;
use crate::platform::jobs::JobRegistry;

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::collections::create, routes::collections::list, routes::collections::get,
        routes::collections::update, routes::collections::delete,
        routes::documents::upload, routes::documents::list, routes::documents::get, routes::documents::content,
        routes::documents::delete,
        routes::documents::reprocess, routes::documents::events, routes::search::search,
    ),
    components(schemas(views::DocumentEvent)),
    tags((name = "knowledge", description = "Collections, documents and search"))
)]
pub struct IngestApi;

/// The domain's service, its pipeline and its orphan sweep registered on the job queue (the sweep scheduled).
pub fn init(backends: &Backends, jobs: &mut JobRegistry, billing: BillingService) -> IngestService {
    jobs.register(pipeline::KIND, Arc::new(pipeline::IngestJob { backends: backends.clone() }));
    jobs.register(sweep::KIND, sweep::handler(backends));
    sweep::schedule(backends);
    IngestService::new(backends, billing)
}

pub fn configure(cfg: &mut web::ServiceConfig, service: &IngestService) {
    cfg.app_data(web::Data::new(service.clone()));
    routes::configure(cfg);
}
