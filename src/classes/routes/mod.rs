//! The class routes: thin handlers over [`super::service::ClassService`].

pub mod classes;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/classes").post(classes::create).get(classes::list))
        .service(web::resource("/classes/{id}").get(classes::get).patch(classes::update).delete(classes::delete));
}
