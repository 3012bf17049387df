//! The persona routes: thin handlers over [`super::service::PersonaService`].

pub mod personas;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/personas").post(personas::create).get(personas::list))
        .service(web::resource("/personas/{id}").get(personas::get).patch(personas::update).delete(personas::delete));
}
