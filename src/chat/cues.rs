//! Avatar cues: what the tutor's avatar acts out, and the streaming parser that takes the model's inline
//! `[cue:name]` tags out of the answer text.
//!
//! Offsets (`at_char`) count Unicode scalar values of the visible text (what the student reads), so a client
//! plays a cue when its typewriter reaches that character. A tag may arrive split over any number of deltas; the
//! parser holds back only a possible tag prefix, never more than [`MAX_TAG`] characters.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::avatar::Cue;

/// A cue at a character offset of the visible answer text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CueAt {
    pub cue: Cue,
    pub at_char: usize,
}

/// What one piece of input turned into, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Cue(CueAt),
}

const OPEN: &str = "[cue:";
/// `[cue:` + the longest name we accept + `]`. Anything longer is not a tag and is shown as text.
const MAX_TAG: usize = OPEN.len() + 24 + 1;

/// Streaming tag stripper. Feed deltas with [`CueParser::push`], then call [`CueParser::finish`].
#[derive(Debug, Default)]
pub struct CueParser {
    /// Text that may be the start of a tag, held until it is known to be one or not.
    held: String,
    /// Visible characters emitted so far.
    chars: usize,
}

impl CueParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Visible characters so far.
    pub fn position(&self) -> usize {
        self.chars
    }

    pub fn push(&mut self, delta: &str) -> Vec<Piece> {
        let mut input = std::mem::take(&mut self.held);
        input.push_str(delta);
        let mut out = Vec::new();
        let mut text = String::new();
        let mut rest = input.as_str();
        while let Some(start) = rest.find('[') {
            text.push_str(&rest[..start]);
            let candidate = &rest[start..];
            match classify(candidate) {
                Tag::Complete { len, name } => {
                    self.flush(&mut text, &mut out);
                    // Unknown names are stripped too: a tag is never shown to the student.
                    if let Some(cue) = Cue::parse(name) {
                        out.push(Piece::Cue(CueAt { cue, at_char: self.chars }));
                    }
                    rest = &candidate[len..];
                }
                Tag::Prefix => {
                    self.held = candidate.to_owned();
                    rest = "";
                }
                Tag::Not => {
                    text.push('[');
                    rest = &candidate[1..];
                }
            }
        }
        text.push_str(rest);
        self.flush(&mut text, &mut out);
        out
    }

    /// The end of the answer: anything held back was not a tag after all.
    pub fn finish(&mut self) -> Vec<Piece> {
        let mut text = std::mem::take(&mut self.held);
        let mut out = Vec::new();
        self.flush(&mut text, &mut out);
        out
    }

    fn flush(&mut self, text: &mut String, out: &mut Vec<Piece>) {
        if !text.is_empty() {
            self.chars += text.chars().count();
            out.push(Piece::Text(std::mem::take(text)));
        }
    }
}

enum Tag<'a> {
    Complete {
        len: usize,
        name: &'a str,
    },
    /// Could still become a tag with more input.
    Prefix,
    Not,
}

fn name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c == '_'
}

/// `s` starts with `[`.
fn classify(s: &str) -> Tag<'_> {
    // Bytes, not str slices: the input may hold a multi-byte character right after the `[`.
    let head = &s.as_bytes()[..s.len().min(OPEN.len())];
    if !OPEN.as_bytes().starts_with(head) {
        return Tag::Not;
    }
    if s.len() < OPEN.len() {
        return Tag::Prefix;
    }
    let after = &s[OPEN.len()..];
    match after.find(|c: char| !name_char(c)) {
        Some(end) if after[end..].starts_with(']') && end > 0 && OPEN.len() + end < MAX_TAG => {
            Tag::Complete { len: OPEN.len() + end + 1, name: &after[..end] }
        }
        Some(_) => Tag::Not,
        None if OPEN.len() + after.len() < MAX_TAG => Tag::Prefix,
        None => Tag::Not,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(deltas: &[&str]) -> (String, Vec<CueAt>) {
        let mut parser = CueParser::new();
        let mut pieces: Vec<Piece> = deltas.iter().flat_map(|d| parser.push(d)).collect();
        pieces.extend(parser.finish());
        let mut text = String::new();
        let mut cues = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => {
                    assert!(!t.is_empty());
                    text.push_str(&t)
                }
                Piece::Cue(c) => cues.push(c),
            }
        }
        (text, cues)
    }

    fn at(cue: Cue, at_char: usize) -> CueAt {
        CueAt { cue, at_char }
    }

    #[test]
    fn a_whole_tag_is_stripped_and_placed() {
        let (text, cues) = run(&["Well done! [cue:celebrate]Now the next step."]);
        assert_eq!(text, "Well done! Now the next step.");
        assert_eq!(cues, [at(Cue::Celebrate, 11)]);
    }

    #[test]
    fn a_tag_split_over_every_possible_boundary() {
        let answer = "Héllo [cue:encourage]you can [cue:celebrate]do it";
        let chars: Vec<char> = answer.chars().collect();
        for split in 0..=chars.len() {
            let (a, b): (String, String) = (chars[..split].iter().collect(), chars[split..].iter().collect());
            let (text, cues) = run(&[&a, &b]);
            assert_eq!(text, "Héllo you can do it", "split at {split}");
            assert_eq!(cues, [at(Cue::Encourage, 6), at(Cue::Celebrate, 14)], "split at {split}");
        }
        // One character per delta.
        let singles: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
        let refs: Vec<&str> = singles.iter().map(String::as_str).collect();
        assert_eq!(run(&refs).0, "Héllo you can do it");
    }

    #[test]
    fn brackets_that_are_not_tags_stay_text() {
        let (text, cues) = run(&["See [1] and [2", "]. [cue:", "unknown_cue] x [cu", "e-no] [cue:BIG] [c"]);
        assert_eq!(text, "See [1] and [2].  x [cue-no] [cue:BIG] [c");
        assert!(cues.is_empty());
        assert_eq!(run(&["[é", "] [", "cué"]).0, "[é] [cué");
        let (text, _) = run(&["[cue:", &"a".repeat(40), "]"]);
        assert_eq!(text, format!("[cue:{}]", "a".repeat(40)), "too long to be a tag");
    }

    #[test]
    fn text_before_a_held_prefix_is_not_held_back() {
        let mut parser = CueParser::new();
        assert_eq!(parser.push("Think [cu"), [Piece::Text("Think ".into())]);
        assert_eq!(parser.push("e:think] on"), [Piece::Cue(at(Cue::Think, 6)), Piece::Text(" on".into())]);
        assert_eq!(parser.position(), 9);
    }

    #[test]
    fn cue_names_round_trip() {
        for cue in Cue::ALL {
            assert_eq!(Cue::parse(cue.as_str()), Some(cue));
            assert_eq!(serde_json::to_value(cue).unwrap(), cue.as_str());
        }
    }
}
