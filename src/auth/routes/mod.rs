//! Auth's HTTP routes: thin handlers over [`super::service::AuthService`].

pub mod api_keys;
pub mod audit;
mod cookie;
pub mod invitations;
pub mod signin;
pub mod users;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // One resource per path, so a known path with the wrong method answers 405, not 404.
    cfg.service(web::resource("/auth/register").post(signin::register))
        .service(web::resource("/auth/login").post(signin::login))
        .service(web::resource("/auth/refresh").post(signin::refresh))
        .service(web::resource("/auth/logout").post(signin::logout))
        .service(web::resource("/auth/me").get(signin::me))
        .service(web::resource("/auth/status").get(signin::status))
        .service(web::resource("/users").get(users::list))
        .service(web::resource("/users/{id}").get(users::get).patch(users::update).delete(users::delete))
        .service(web::resource("/invitations").post(invitations::create).get(invitations::list))
        .service(web::resource("/invitations/{id}").delete(invitations::revoke))
        .service(web::resource("/invitations/{token}/accept").post(invitations::accept))
        .service(web::resource("/api-keys").post(api_keys::create).get(api_keys::list))
        .service(web::resource("/api-keys/{id}").delete(api_keys::revoke))
        .service(web::resource("/audit").get(audit::list));
}
