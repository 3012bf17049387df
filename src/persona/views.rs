//! What goes over the wire: the persona requests and views, with the limits the service enforces.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::service::Persona;

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

pub const NAME_MAX: usize = 120;
pub const DESCRIPTION_MAX: usize = 1000;
pub const TONE_MAX: usize = 200;
/// Room for a real lesson plan, small enough to leave most of a model's context for the sources.
pub const INSTRUCTIONS_MAX: usize = 8000;
pub const GREETING_MAX: usize = 1000;
pub const MODEL_MAX: usize = 200;
pub const COLLECTIONS_MAX: usize = 20;
pub const TEMPERATURE_DEFAULT: f64 = 0.7;
pub const MAX_TOKENS_DEFAULT: i64 = 1024;
pub const MAX_TOKENS_MAX: i64 = 16384;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Professor Ada", "tone": "warm and encouraging",
    "teaching_mode": "socratic", "greeting": "Hello! What are we learning today?",
    "collection_ids": ["0193a7a2-41c5-7f3e-9a70-0c1d2e3f4a5b"]}))]
pub struct CreatePersona {
    /// 1 to 120 characters.
    #[schema(min_length = 1, max_length = 120)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: String,
    /// How the tutor sounds, e.g. "warm and encouraging".
    #[serde(default)]
    #[schema(max_length = 200)]
    pub tone: String,
    /// What the tutor should do and avoid; shown to staff only.
    #[serde(default)]
    #[schema(max_length = 8000)]
    pub instructions: String,
    #[serde(default)]
    pub teaching_mode: TeachingMode,
    /// The first message of a new session.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub greeting: String,
    /// Collections of the caller's organisation the tutor answers from; at most 20.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub collection_ids: Vec<Uuid>,
    #[serde(default)]
    pub avatar_id: Option<Uuid>,
    /// Empty or absent: the server's configured default model.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub model: Option<String>,
    /// 0 to 2; default 0.7.
    #[serde(default)]
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
    /// 1 to 16384; default 1024.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 16384)]
    pub max_tokens: Option<i64>,
}

/// Absent fields stay as they are; `avatar_id` and `model` may be set to `null` to clear them.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdatePersona {
    #[schema(min_length = 1, max_length = 120)]
    pub name: Option<String>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    #[schema(max_length = 200)]
    pub tone: Option<String>,
    #[schema(max_length = 8000)]
    pub instructions: Option<String>,
    pub teaching_mode: Option<TeachingMode>,
    #[schema(max_length = 1000)]
    pub greeting: Option<String>,
    #[schema(max_items = 20)]
    pub collection_ids: Option<Vec<Uuid>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub avatar_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub model: Option<Option<String>>,
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
    #[schema(minimum = 1, maximum = 16384)]
    pub max_tokens: Option<i64>,
}

/// Tells `"field": null` (clear it: `Some(None)`) from an absent field (`None`, through `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonaView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub tone: String,
    /// Present for teachers and admins only: instructions may hold answers a student should work out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    pub teaching_mode: TeachingMode,
    pub greeting: String,
    pub collection_ids: Vec<Uuid>,
    pub avatar_id: Option<Uuid>,
    /// `null`: the server's default model.
    pub model: Option<String>,
    pub temperature: f64,
    pub max_tokens: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PersonaView {
    pub fn new(persona: Persona, show_instructions: bool) -> Self {
        Self {
            id: persona.id,
            name: persona.name,
            description: persona.description,
            tone: persona.tone,
            instructions: show_instructions.then_some(persona.instructions),
            teaching_mode: persona.teaching_mode,
            greeting: persona.greeting,
            collection_ids: persona.collection_ids,
            avatar_id: persona.avatar_id,
            model: persona.model,
            temperature: persona.temperature,
            max_tokens: persona.max_tokens,
            created_at: persona.created_at,
            updated_at: persona.updated_at,
        }
    }
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

    #[test]
    fn update_null_clears_and_absent_keeps() {
        let body: UpdatePersona = serde_json::from_value(serde_json::json!({ "model": null })).unwrap();
        assert_eq!(body.model, Some(None));
        assert_eq!(body.avatar_id, None);
        let body: UpdatePersona = serde_json::from_value(serde_json::json!({ "avatar_id": null })).unwrap();
        assert_eq!(body.avatar_id, Some(None));
    }
}
