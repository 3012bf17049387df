//! Which clip of an avatar plays each cue: guessed from the clip names at upload, then the teacher's to change.

use std::collections::{BTreeMap, HashMap};

use super::cue::Cue;
use super::error::AvatarError;
use super::views::Clip;

/// Which clip of an avatar plays each cue, as chat reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CueMapping {
    clips: HashMap<String, String>,
}

impl CueMapping {
    pub fn new(clips: HashMap<String, String>) -> Self {
        Self { clips }
    }

    pub fn clip(&self, cue: &str) -> Option<&str> {
        self.clips.get(cue).map(String::as_str)
    }
}

/// Words in clip names that suggest each cue, most telling first. Matched as parts of the lower-cased name, so
/// `Armature|Wave_Hello` and `mixamo.com|Idle` are found too.
const HINTS: &[(Cue, &[&str])] = &[
    (Cue::Idle, &["idle", "breath", "stand", "rest"]),
    (Cue::Greet, &["wave", "greet", "hello", "bow"]),
    (Cue::Think, &["think", "ponder", "wonder", "consider", "hmm"]),
    (Cue::Explain, &["talk", "speak", "explain", "gesture", "present"]),
    (Cue::Encourage, &["encourage", "nod", "thumb", "agree", "yes"]),
    (Cue::Celebrate, &["celebrate", "cheer", "clap", "dance", "jump", "victory", "happy", "nod"]),
];

/// The mapping a new avatar starts with: for each cue, the first clip whose name holds one of its hints.
pub fn guess(clips: &[Clip]) -> BTreeMap<String, String> {
    let mut mapping = BTreeMap::new();
    for (cue, hints) in HINTS {
        let found = hints.iter().find_map(|hint| clips.iter().find(|clip| clip.name.to_lowercase().contains(hint)));
        if let Some(clip) = found {
            mapping.insert(cue.as_str().to_owned(), clip.name.clone());
        }
    }
    mapping
}

/// A teacher's mapping, checked: known cues, clips the model has.
pub fn check(mapping: &BTreeMap<String, String>, clips: &[Clip]) -> Result<(), AvatarError> {
    for (cue, clip) in mapping {
        if Cue::parse(cue).is_none() {
            return Err(AvatarError::UnknownCue(cue.clone()));
        }
        if !clips.iter().any(|c| &c.name == clip) {
            return Err(AvatarError::UnknownClip(clip.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clips(names: &[&str]) -> Vec<Clip> {
        names.iter().map(|n| Clip { name: (*n).to_owned(), duration_secs: 1.0 }).collect()
    }

    #[test]
    fn the_default_mapping_is_guessed_from_clip_names() {
        let guessed = guess(&clips(&["Armature|Idle_Loop", "Wave_Hello", "Talking", "Thinking", "Nod_Yes"]));
        let expected = [
            ("celebrate", "Nod_Yes"),
            ("encourage", "Nod_Yes"),
            ("explain", "Talking"),
            ("greet", "Wave_Hello"),
            ("idle", "Armature|Idle_Loop"),
            ("think", "Thinking"),
        ];
        assert_eq!(guessed, expected.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect());
        assert!(guess(&clips(&["Run", "Jog"])).is_empty());
    }

    #[test]
    fn a_mapping_names_known_cues_and_the_models_clips() {
        let model = clips(&["idle", "wave"]);
        let ok = BTreeMap::from([("greet".to_owned(), "wave".to_owned())]);
        assert!(check(&ok, &model).is_ok());
        let bad_clip = BTreeMap::from([("greet".to_owned(), "dance".to_owned())]);
        assert!(matches!(check(&bad_clip, &model), Err(AvatarError::UnknownClip(c)) if c == "dance"));
        let bad_cue = BTreeMap::from([("juggle".to_owned(), "wave".to_owned())]);
        assert!(matches!(check(&bad_cue, &model), Err(AvatarError::UnknownCue(c)) if c == "juggle"));
    }
}
