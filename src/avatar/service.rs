//! The cue → clip seam. Chat asks once per answer for the mapping of the persona's avatar and names the clip in
//! every `avatar.cue` frame; until avatars exist the mapping is empty, every cue goes out with `clip: null`, and
//! the client falls back to its own animation for the cue's name.

use std::collections::HashMap;

use uuid::Uuid;

/// Which clip of an avatar plays each cue (by cue name: `greet`, `think`, `explain`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CueMapping {
    clips: HashMap<String, String>,
}

impl CueMapping {
    pub fn clip(&self, cue: &str) -> Option<&str> {
        self.clips.get(cue).map(String::as_str)
    }
}

/// Holds nothing yet: the avatars' store comes with the avatar issue.
#[derive(Clone, Default)]
pub struct AvatarService;

impl AvatarService {
    /// The cue mapping of `avatar_id` (an avatar of `org_id`); empty without an avatar.
    pub async fn mapping(&self, _org_id: Uuid, _avatar_id: Option<Uuid>) -> anyhow::Result<CueMapping> {
        Ok(CueMapping::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn until_avatars_exist_no_cue_names_a_clip() {
        let mapping = AvatarService.mapping(Uuid::new_v4(), Some(Uuid::new_v4())).await.unwrap();
        for cue in ["greet", "think", "explain", "encourage", "celebrate", "idle"] {
            assert_eq!(mapping.clip(cue), None);
        }
        let mapping = CueMapping { clips: HashMap::from([("greet".into(), "Wave".into())]) };
        assert_eq!(mapping.clip("greet"), Some("Wave"));
    }
}
