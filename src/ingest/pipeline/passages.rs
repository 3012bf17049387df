//! What gets embedded and what a search returns, beyond the chunk itself.
//!
//! A MiniLM-class model was trained on short texts: a 230-token chunk's single vector blurs the one sentence a
//! question is about. So besides the chunk vector, every chunk gets *window* vectors, three sentences at a
//! time, and search ranks a chunk by its best window as a third list in the fusion. By default a window's vector
//! is pooled from the chunk's own forward pass (the mean of its tokens' vectors, with the context line's: "late
//! chunking"), so windows cost no model input; `embeddings.windows = "separate"` embeds each on its own instead,
//! which reads a little better and costs several times the time (numbers in benches/README.md). In the other
//! direction, the answer to a question is often one chunk over from the best match (the section runs on), so a
//! hit returns its chunk joined with its neighbours in the same section (see `retrieval.rs`).

use std::ops::Range;

use super::chunker::{self, Location};

/// Sentences per window, and the step between windows (so neighbouring windows share one sentence).
const WINDOW_SENTENCES: usize = 3;
const WINDOW_STEP: usize = 2;

/// Payload flag on window points; chunk points do not have it.
pub const WINDOW_FLAG: &str = "window";

/// Document title and heading trail, the line embedded before a chunk's text, so a chunk that only says "it
/// returns None" still matches a question about the function its heading names.
pub fn context(document_name: &str, location: &Location) -> String {
    let title = document_name.rsplit_once('.').map_or(document_name, |(stem, _)| stem).replace(['_', '-'], " ");
    if location.heading_path.is_empty() {
        format!("{title}\n")
    } else {
        format!("{title} > {}\n", location.heading_path.join(" > "))
    }
}

/// The chunk's text as one line: what gets embedded. The model reads a line break as a space, and window
/// sentences are found the same way whatever line breaks are kept for display.
pub fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The windows of a [`flat`] text, as byte ranges into it; none when the text is no longer than one window,
/// since its own vector already is one.
pub fn windows(flat: &str) -> Vec<Range<usize>> {
    // Sentences of a flat text are its substrings in order, so each is found from where the last one ended.
    let mut spans = Vec::new();
    let mut cursor = 0;
    for sentence in chunker::sentences(flat) {
        let Some(at) = flat[cursor..].find(&sentence) else { continue };
        spans.push(cursor + at..cursor + at + sentence.len());
        cursor += at + sentence.len();
    }
    if spans.len() <= WINDOW_SENTENCES {
        return Vec::new();
    }
    let mut starts: Vec<usize> = (0..=spans.len() - WINDOW_SENTENCES).step_by(WINDOW_STEP).collect();
    // The last sentences get a window even when the step jumps past them.
    if starts.last().is_some_and(|&s| s + WINDOW_SENTENCES < spans.len()) {
        starts.push(spans.len() - WINDOW_SENTENCES);
    }
    starts.into_iter().map(|s| spans[s].start..spans[s + WINDOW_SENTENCES - 1].end).collect()
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

    fn window_texts(text: &str) -> Vec<String> {
        let flat = flat(text);
        windows(&flat).into_iter().map(|r| flat[r].to_owned()).collect()
    }

    #[test]
    fn windows_cover_every_sentence_in_threes() {
        assert!(window_texts("One. Two. Three.").is_empty());
        assert_eq!(window_texts("A1. B2.\nC3. D4. E5."), vec!["A1. B2. C3.", "C3. D4. E5."]);
        assert_eq!(window_texts("A1. B2. C3. D4. E5. F6."), vec!["A1. B2. C3.", "C3. D4. E5.", "D4. E5. F6."]);
        assert_eq!(window_texts("É1. É2. É3. É4."), vec!["É1. É2. É3.", "É2. É3. É4."], "byte ranges");
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
        assert_eq!(context("py_control-flow.pdf", &loc), "py control flow > 4. Tools > 4.1. if\n");
        assert_eq!(context("notes", &Location::default()), "notes\n");
    }
}
