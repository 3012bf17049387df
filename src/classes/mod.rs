//! Classes: groups of an organisation's teachers and students, with the tutors they use. Teachers see and manage
//! the classes they teach, students the classes they are in, admins all; the analytics a teacher sees will be
//! scoped by them.

mod entities;
mod error;
mod oversight;
mod routes;
pub mod service;
mod store;
pub mod views;

use actix_web::web;
use utoipa::OpenApi;

pub use error::ClassError;
pub use oversight::OversightPolicy;
pub use service::ClassService;

use crate::auth::AuthService;
use crate::persona::PersonaService;
use crate::platform::Backends;

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::classes::create, routes::classes::list, routes::classes::get, routes::classes::update,
        routes::classes::delete,
    ),
    tags((name = "classes", description = "Classes: teachers, students and the tutors they use"))
)]
pub struct ClassApi;

pub fn init(backends: &Backends, auth: AuthService, personas: PersonaService) -> ClassService {
    ClassService::new(backends, auth, personas)
}

pub fn configure(cfg: &mut web::ServiceConfig, service: &ClassService) {
    cfg.app_data(web::Data::new(service.clone()));
    routes::configure(cfg);
}
