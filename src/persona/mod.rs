//! Personas: the AI tutors teachers build on their collections, with a tone, instructions, a teaching mode, a
//! greeting, an avatar and model settings. The chat layer reads them through [`service`].

mod entities;
mod error;
mod routes;
pub mod service;
mod views;

use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub use error::PersonaError;
pub use service::Persona;

/// How the tutor teaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TeachingMode {
    /// Answers the question, with its sources.
    #[default]
    Direct,
    /// Guides with questions and hints before giving the answer.
    Socratic,
}

impl TeachingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Socratic => "socratic",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "direct" => Some(Self::Direct),
            "socratic" => Some(Self::Socratic),
            _ => None,
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(routes::create, routes::list, routes::get, routes::update, routes::delete),
    components(schemas(TeachingMode, views::CreatePersona, views::UpdatePersona, views::PersonaView)),
    tags((name = "personas", description = "AI tutors: tone, instructions, teaching mode, sources, model settings"))
)]
pub struct PersonaApi;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/personas").post(routes::create).get(routes::list))
        .service(web::resource("/personas/{id}").get(routes::get).patch(routes::update).delete(routes::delete));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teaching_modes_round_trip() {
        for mode in [TeachingMode::Direct, TeachingMode::Socratic] {
            assert_eq!(TeachingMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(TeachingMode::parse("lecture"), None);
    }
}
