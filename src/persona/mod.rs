//! Personas: the AI tutors teachers build on their collections, with a tone, instructions, a teaching mode, a
//! greeting, an avatar and model settings. The chat domain reads them through [`PersonaService`].

mod entities;
mod error;
mod routes;
pub mod service;
mod store;
pub mod views;

use actix_web::web;
use utoipa::OpenApi;

pub use error::PersonaError;
pub use service::{Persona, PersonaService};
pub use views::TeachingMode;

use crate::auth::AuthService;
use crate::avatar::AvatarService;
use crate::billing::BillingService;
use crate::ingest::IngestService;
use crate::platform::Backends;

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::personas::create, routes::personas::list, routes::personas::get, routes::personas::update,
        routes::personas::delete,
    ),
    components(schemas(TeachingMode)),
    tags((name = "personas", description = "AI tutors: tone, instructions, teaching mode, sources, model settings"))
)]
pub struct PersonaApi;

pub fn init(
    backends: &Backends,
    ingest: IngestService,
    auth: AuthService,
    billing: BillingService,
    avatars: AvatarService,
) -> PersonaService {
    PersonaService::new(backends, ingest, auth, billing, avatars)
}

pub fn configure(cfg: &mut web::ServiceConfig, service: &PersonaService) {
    cfg.app_data(web::Data::new(service.clone()));
    routes::configure(cfg);
}
