//! Knowledge ingest and search: collections, document upload and processing on the durable job queue,
//! structure-aware chunking, embeddings, hybrid (dense + BM25) retrieval.

mod chunker;
mod collections;
mod documents;
mod entities;
mod error;
mod events;
pub mod extract;
mod media;
mod passages;
mod pipeline;
pub mod search;
pub mod service;
mod transcribe;

use std::sync::Arc;

use actix_web::web;
use utoipa::OpenApi;

pub use error::IngestError;
pub use events::DocumentEvent;

use crate::app::AppState;
use crate::platform::jobs::JobRegistry;

#[derive(OpenApi)]
#[openapi(
    paths(
        collections::create, collections::list, collections::get, collections::update, collections::delete,
        documents::upload, documents::list, documents::get, documents::delete, documents::reprocess,
        events::stream, search::route,
    ),
    components(schemas(collections::CollectionView, documents::DocumentView, events::DocumentEvent,
        search::SearchHit, search::SearchResponse)),
    tags((name = "knowledge", description = "Collections, documents and search"))
)]
pub struct IngestApi;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/collections").post(collections::create).get(collections::list))
        .service(
            web::resource("/collections/{id}")
                .get(collections::get)
                .patch(collections::update)
                .delete(collections::delete),
        )
        .service(web::resource("/collections/{id}/documents").post(documents::upload).get(documents::list))
        .service(web::resource("/documents/{id}").get(documents::get).delete(documents::delete))
        .service(web::resource("/documents/{id}/reprocess").post(documents::reprocess))
        .service(web::resource("/documents/{id}/events").get(events::stream))
        .service(web::resource("/search").post(search::route));
}

pub fn register_jobs(registry: &mut JobRegistry, state: Arc<AppState>) {
    registry.register(pipeline::KIND, Arc::new(pipeline::IngestJob { state }));
}
