//! What gets embedded and what a search returns, beyond the chunk itself.
//!
//! A MiniLM-class model was trained on short texts: a 230-token chunk's single vector blurs the one sentence a
//! question is about. So besides the chunk vector, every chunk gets *window* vectors, three sentences at a
//! time, and search ranks a chunk by its best window as a third list in the fusion. In the other direction, the
//! answer to a question is often one chunk over from the best match (the section runs on), so a hit returns
//! its chunk joined with its neighbours in the same section (see `search.rs`). Measured on the public eval set
//! through the real server (see README): 0.886 recall@5 / 0.730 MRR@10 with windows and one neighbour either
//! side, 0.955 / 0.796 with up to two neighbours and the per-document decay.

use super::chunker::{self, Chunk, Location};

/// Sentences per window, and the step between windows (so neighbouring windows share one sentence).
const WINDOW_SENTENCES: usize = 3;
const WINDOW_STEP: usize = 2;

/// Payload flag on window points; chunk points do not have it.
pub const WINDOW_FLAG: &str = "window";

/// Document title and heading trail before the text, so a chunk that only says "it returns None" still matches
/// a question about the function its heading names.
pub fn contextual_text(document_name: &str, location: &Location, text: &str) -> String {
    let title = document_name.rsplit_once('.').map_or(document_name, |(stem, _)| stem).replace(['_', '-'], " ");
    if location.heading_path.is_empty() {
        format!("{title}\n{text}")
    } else {
        format!("{title} > {}\n{text}", location.heading_path.join(" > "))
    }
}

/// The window texts of a chunk (without context); none when the chunk is no longer than one window, since its
/// own vector already is one.
pub fn windows(chunk: &Chunk) -> Vec<String> {
    // Sentences as if the chunk were one line: the windows do not change with the line breaks kept for display.
    let flat = chunk.text.split_whitespace().collect::<Vec<_>>().join(" ");
    let sentences = chunker::sentences(&flat);
    if sentences.len() <= WINDOW_SENTENCES {
        return Vec::new();
    }
    let mut starts: Vec<usize> = (0..=sentences.len() - WINDOW_SENTENCES).step_by(WINDOW_STEP).collect();
    // The last sentences get a window even when the step jumps past them.
    if starts.last().is_some_and(|&s| s + WINDOW_SENTENCES < sentences.len()) {
        starts.push(sentences.len() - WINDOW_SENTENCES);
    }
    starts.into_iter().map(|s| sentences[s..s + WINDOW_SENTENCES].join(" ")).collect()
}

/// `first` followed by `second`, where `second` may start with the tail of `first` (chunk overlap): the shared
/// words appear once, and each side keeps its line breaks.
pub fn join(first: &str, second: &str) -> String {
    match unshared(first, second) {
        "" => first.to_owned(),
        rest => format!("{first} {rest}"),
    }
}

/// `second` without the words it repeats from the end of `first` (chunk overlap), its own line breaks kept: for
/// showing consecutive chunks as one text.
pub fn unshared<'a>(first: &str, second: &'a str) -> &'a str {
    let mut rest = second;
    for _ in 0..shared_words(first, second) {
        rest = rest.trim_start();
        rest = &rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..];
    }
    rest.trim_start()
}

/// How many words `second` starts with that `first` ends with.
fn shared_words(first: &str, second: &str) -> usize {
    let first_words: Vec<&str> = first.split_whitespace().collect();
    let second_words: Vec<&str> = second.split_whitespace().collect();
    let longest = first_words.len().min(second_words.len());
    (1..=longest).rev().find(|&n| first_words[first_words.len() - n..] == second_words[..n]).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str) -> Chunk {
        Chunk { text: text.into(), location: Location::default(), start_ms: None, end_ms: None, token_count: 0 }
    }

    #[test]
    fn windows_cover_every_sentence_in_threes() {
        assert!(windows(&chunk("One. Two. Three.")).is_empty());
        assert_eq!(windows(&chunk("A1. B2. C3. D4. E5.")), vec!["A1. B2. C3.", "C3. D4. E5."]);
        assert_eq!(windows(&chunk("A1. B2. C3. D4. E5. F6.")), vec!["A1. B2. C3.", "C3. D4. E5.", "D4. E5. F6."]);
    }

    #[test]
    fn joining_drops_the_overlap_once() {
        assert_eq!(join("a b c d", "c d e f"), "a b c d e f");
        assert_eq!(join("a b", "c d"), "a b c d");
        assert_eq!(join("a b", "a b"), "a b");
        assert_eq!(join("x:\n  a b", "a b\ny"), "x:\n  a b y", "line breaks kept");
    }

    #[test]
    fn unshared_keeps_the_new_text_and_its_line_breaks() {
        assert_eq!(unshared("a b c d", "c d\ne f"), "e f");
        assert_eq!(unshared("a b", "c\nd"), "c\nd");
        assert_eq!(unshared("a b", "a b"), "");
    }

    #[test]
    fn context_names_the_document_and_heading() {
        let loc = Location { heading_path: vec!["4. Tools".into(), "4.1. if".into()], ..Location::default() };
        assert_eq!(
            contextual_text("py_control-flow.pdf", &loc, "Text."),
            "py control flow > 4. Tools > 4.1. if\nText."
        );
        assert_eq!(contextual_text("notes", &Location::default(), "T"), "notes\nT");
    }
}
