//! The avatar routes: thin handlers over [`super::service::AvatarService`].

pub mod assets;
pub mod avatars;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/avatars").post(avatars::upload).get(avatars::list))
        .service(web::resource("/avatars/{id}").get(avatars::get).delete(avatars::delete))
        .service(web::resource("/avatars/{id}/mapping").put(avatars::set_mapping))
        .service(web::resource("/assets/{key:.+}").get(assets::get));
}
