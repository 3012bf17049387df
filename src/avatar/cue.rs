//! The avatar cues: what a tutor's avatar acts out. The chat domain finds them in the answer and streams them;
//! each avatar maps them to clips of its own.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Cue {
    Greet,
    Think,
    Explain,
    Encourage,
    Celebrate,
    Idle,
}

impl Cue {
    pub const ALL: [Cue; 6] = [Cue::Greet, Cue::Think, Cue::Explain, Cue::Encourage, Cue::Celebrate, Cue::Idle];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Greet => "greet",
            Self::Think => "think",
            Self::Explain => "explain",
            Self::Encourage => "encourage",
            Self::Celebrate => "celebrate",
            Self::Idle => "idle",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}
