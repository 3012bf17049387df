//! The avatar domain's wire types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The file as uploaded: binary glTF, or glTF JSON with its data in `data:` URIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelFormat {
    Glb,
    Gltf,
}

impl ModelFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Glb => "glb",
            Self::Gltf => "gltf",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "glb" => Some(Self::Glb),
            "gltf" => Some(Self::Gltf),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Glb => "model/gltf-binary",
            Self::Gltf => "model/gltf+json",
        }
    }
}

/// An animation clip of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Clip {
    pub name: String,
    /// The last keyframe's time.
    pub duration_secs: f64,
}

/// The box around the model's meshes in its rest pose, in model units (glTF: metres, Y up).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Bounds {
    pub min: [f32; 3],
    pub max: [f32; 3],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelStats {
    pub nodes: u64,
    pub meshes: u64,
    pub vertices: u64,
    pub triangles: u64,
    pub textures: u64,
    pub skins: u64,
    /// Absent when the model declares no position bounds.
    pub bounds: Option<Bounds>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvatarView {
    pub id: Uuid,
    pub name: String,
    pub file_name: String,
    pub format: ModelFormat,
    pub size_bytes: u64,
    /// The project's own sample avatar, offered to every organisation.
    pub sample: bool,
    pub animations: Vec<Clip>,
    pub morph_targets: Vec<String>,
    pub stats: ModelStats,
    /// Which clip plays each avatar cue (`greet`, `think`, `explain`, `encourage`, `celebrate`, `idle`); an absent
    /// cue plays nothing.
    #[schema(example = json!({"greet": "wave", "idle": "idle"}))]
    pub mapping: BTreeMap<String, String>,
    /// A short-lived link to the file that needs no credentials; ask for the avatar again for a fresh one.
    pub url: String,
    pub url_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `multipart/form-data` with the model and, optionally, its name.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the multipart body; the handler reads the fields itself
pub struct AvatarUploadForm {
    /// A `.glb`, or a `.gltf` with every buffer and image embedded as a `data:` URI.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// Default: the file name without its extension.
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingUpdate {
    /// Cue → clip name; each clip must be one of the model's. Cues left out play nothing.
    #[schema(example = json!({"greet": "wave", "think": "think", "explain": "talk", "idle": "idle"}))]
    pub mapping: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Also unlink the avatar from the tutors that use it (otherwise such a delete is refused with 409).
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetQuery {
    /// Unix seconds after which the link no longer works.
    pub expires: i64,
    /// Hex HMAC-SHA256 of the key and the expiry.
    pub sig: String,
}
