//! Avatars: each organisation's 3D tutors (glTF models validated on upload), their clips and morph targets, the
//! mapping of the tutor's cues to clips (chat reads it through [`AvatarService::mapping`]), the sample avatar
//! every organisation is offered, and the signed links the files are served by.

mod cue;
mod entities;
mod error;
mod inspect;
mod mapping;
mod routes;
pub mod service;
mod store;
pub mod views;

use actix_web::web;
use utoipa::OpenApi;

pub use cue::Cue;
pub use error::AvatarError;
pub use mapping::CueMapping;
pub use service::{AvatarLinks, AvatarService};

use crate::auth::AuthService;
use crate::platform::Backends;

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::avatars::upload, routes::avatars::list, routes::avatars::get, routes::avatars::set_mapping,
        routes::avatars::delete, routes::assets::get,
    ),
    components(schemas(Cue)),
    tags((name = "avatars", description = "3D tutors: validated glTF models, their clips, the cue mapping, signed \
        links to the files"))
)]
pub struct AvatarApi;

pub fn init(backends: &Backends, auth: AuthService) -> anyhow::Result<AvatarService> {
    AvatarService::new(backends, auth)
}

pub fn configure(cfg: &mut web::ServiceConfig, service: &AvatarService) {
    cfg.app_data(web::Data::new(service.clone()));
    routes::configure(cfg);
}
