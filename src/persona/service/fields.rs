//! The rules for a persona's fields: one set for create and update.

use uuid::Uuid;

use super::Persona;
use crate::persona::error::PersonaError;
use crate::persona::views::{
    COLLECTIONS_MAX, CreatePersona, DESCRIPTION_MAX, GREETING_MAX, INSTRUCTIONS_MAX, MAX_TOKENS_DEFAULT,
    MAX_TOKENS_MAX, MODEL_MAX, NAME_MAX, TEMPERATURE_DEFAULT, TONE_MAX, TeachingMode, UpdatePersona,
};

/// A persona's editable fields, checked and normalised (trimmed, duplicates dropped). Collection ids are checked
/// for shape here and for ownership by the service, which asks the knowledge domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Fields {
    pub name: String,
    pub description: String,
    pub tone: String,
    pub instructions: String,
    pub teaching_mode: TeachingMode,
    pub greeting: String,
    pub collection_ids: Vec<Uuid>,
    pub avatar_id: Option<Uuid>,
    pub model: Option<String>,
    pub temperature: f64,
    pub max_tokens: u32,
}

impl Fields {
    pub fn from_create(body: CreatePersona) -> Result<Self, PersonaError> {
        Self::check(Raw {
            name: body.name,
            description: body.description,
            tone: body.tone,
            instructions: body.instructions,
            teaching_mode: body.teaching_mode,
            greeting: body.greeting,
            collection_ids: body.collection_ids,
            avatar_id: body.avatar_id,
            model: body.model,
            temperature: body.temperature.unwrap_or(TEMPERATURE_DEFAULT),
            max_tokens: body.max_tokens.unwrap_or(MAX_TOKENS_DEFAULT),
        })
    }

    /// The persona's current fields with the update's on top, checked as a whole.
    pub fn from_update(current: &Persona, body: UpdatePersona) -> Result<Self, PersonaError> {
        let keep = |new: Option<String>, old: &str| new.unwrap_or_else(|| old.to_owned());
        Self::check(Raw {
            name: keep(body.name, &current.name),
            description: keep(body.description, &current.description),
            tone: keep(body.tone, &current.tone),
            instructions: keep(body.instructions, &current.instructions),
            teaching_mode: body.teaching_mode.unwrap_or(current.teaching_mode),
            greeting: keep(body.greeting, &current.greeting),
            collection_ids: body.collection_ids.unwrap_or_else(|| current.collection_ids.clone()),
            avatar_id: body.avatar_id.unwrap_or(current.avatar_id),
            model: body.model.unwrap_or_else(|| current.model.clone()),
            temperature: body.temperature.unwrap_or(current.temperature),
            max_tokens: body.max_tokens.unwrap_or(i64::from(current.max_tokens)),
        })
    }

    fn check(raw: Raw) -> Result<Self, PersonaError> {
        let name = text("name", &raw.name, NAME_MAX)?;
        if name.is_empty() {
            return Err(PersonaError::Required("name"));
        }
        let model = match raw.model.as_deref().map(|m| text("model", m, MODEL_MAX)).transpose()? {
            Some(model) if !model.is_empty() => Some(model),
            _ => None,
        };
        if !(0.0..=2.0).contains(&raw.temperature) {
            return Err(PersonaError::OutOfRange { field: "temperature", allowed: "between 0 and 2" });
        }
        let max_tokens = u32::try_from(raw.max_tokens)
            .ok()
            .filter(|n| (1..=MAX_TOKENS_MAX).contains(&i64::from(*n)))
            .ok_or(PersonaError::OutOfRange { field: "max_tokens", allowed: "between 1 and 16384" })?;
        let mut collection_ids = Vec::with_capacity(raw.collection_ids.len());
        for id in raw.collection_ids {
            if !collection_ids.contains(&id) {
                collection_ids.push(id);
            }
        }
        if collection_ids.len() > COLLECTIONS_MAX {
            return Err(PersonaError::OutOfRange { field: "collection_ids", allowed: "at most 20 collections" });
        }
        Ok(Self {
            name,
            description: text("description", &raw.description, DESCRIPTION_MAX)?,
            tone: text("tone", &raw.tone, TONE_MAX)?,
            instructions: text("instructions", &raw.instructions, INSTRUCTIONS_MAX)?,
            teaching_mode: raw.teaching_mode,
            greeting: text("greeting", &raw.greeting, GREETING_MAX)?,
            collection_ids,
            avatar_id: raw.avatar_id,
            model,
            temperature: raw.temperature,
            max_tokens,
        })
    }
}

/// Unchecked fields, from either request.
struct Raw {
    name: String,
    description: String,
    tone: String,
    instructions: String,
    teaching_mode: TeachingMode,
    greeting: String,
    collection_ids: Vec<Uuid>,
    avatar_id: Option<Uuid>,
    model: Option<String>,
    temperature: f64,
    max_tokens: i64,
}

/// At most `max` characters as sent (the schema's `maxLength`); stored trimmed.
fn text(field: &'static str, value: &str, max: usize) -> Result<String, PersonaError> {
    if value.chars().count() > max {
        return Err(PersonaError::TooLong { field, max });
    }
    Ok(value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(edit: impl FnOnce(&mut CreatePersona)) -> Result<Fields, PersonaError> {
        let mut body: CreatePersona = serde_json::from_value(serde_json::json!({ "name": "  Ada  " })).unwrap();
        edit(&mut body);
        Fields::from_create(body)
    }

    #[test]
    fn defaults_and_normalisation() {
        let fields = create(|b| {
            let id = Uuid::new_v4();
            b.collection_ids = vec![id, id];
            b.model = Some("   ".into());
        })
        .unwrap();
        assert_eq!(fields.name, "Ada");
        assert_eq!(fields.teaching_mode, TeachingMode::Direct);
        assert_eq!((fields.temperature, fields.max_tokens), (0.7, 1024));
        assert_eq!(fields.collection_ids.len(), 1, "duplicates dropped");
        assert_eq!(fields.model, None, "a blank model means the default");
    }

    #[test]
    fn each_rule_has_its_code() {
        let code = |r: Result<Fields, PersonaError>| match r {
            Err(PersonaError::Required(f)) => format!("required:{f}"),
            Err(PersonaError::TooLong { field, .. }) => format!("too_long:{field}"),
            Err(PersonaError::OutOfRange { field, .. }) => format!("range:{field}"),
            other => format!("{other:?}"),
        };
        assert_eq!(code(create(|b| b.name = " ".into())), "required:name");
        assert_eq!(code(create(|b| b.name = "x".repeat(121))), "too_long:name");
        assert!(create(|b| b.name = "é".repeat(120)).is_ok(), "characters, not bytes");
        assert_eq!(code(create(|b| b.instructions = "x".repeat(8001))), "too_long:instructions");
        assert_eq!(code(create(|b| b.temperature = Some(2.01))), "range:temperature");
        assert_eq!(code(create(|b| b.temperature = Some(-0.1))), "range:temperature");
        assert!(create(|b| b.temperature = Some(2.0)).is_ok());
        assert_eq!(code(create(|b| b.max_tokens = Some(0))), "range:max_tokens");
        assert_eq!(code(create(|b| b.max_tokens = Some(16385))), "range:max_tokens");
        assert_eq!(code(create(|b| b.max_tokens = Some(-5))), "range:max_tokens");
        assert_eq!(
            code(create(|b| b.collection_ids = (0..21).map(|_| Uuid::new_v4()).collect())),
            "range:collection_ids"
        );
    }
}
