//! The knowledge routes: thin handlers over [`super::service::IngestService`].

pub mod collections;
pub mod documents;
pub mod search;

use actix_web::web;

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
        .service(web::resource("/documents/{id}/content").get(documents::content))
        .service(web::resource("/documents/{id}/reprocess").post(documents::reprocess))
        .service(web::resource("/documents/{id}/events").get(documents::events))
        .service(web::resource("/search").post(search::search));
}
