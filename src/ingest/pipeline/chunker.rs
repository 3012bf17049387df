//! Structure-aware chunking. Sections that share a location (page, slide, heading trail) are chunked together;
//! chunks never cross a page or slide (a citation names one), are sized in the embedding model's own tokens,
//! overlap their neighbour by about 15%, and never split a word.

/// Where a piece of text sits in its document, for citations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub page: Option<u32>,
    pub slide: Option<u32>,
    pub heading_path: Vec<String>,
}

/// One extracted piece of text with its location and, for timed media, its time span.
#[derive(Debug, Clone, Default)]
pub struct Piece {
    pub text: String,
    pub location: Location,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub text: String,
    pub location: Location,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
    pub token_count: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct ChunkConfig {
    /// Largest chunk, in the model's tokens (special tokens excluded).
    pub max_tokens: usize,
    /// Share of `max_tokens` repeated from the end of one chunk at the start of the next.
    pub overlap: f32,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        // MiniLM reads 256 word pieces; 2 go to [CLS]/[SEP] and a margin absorbs counting pieces one
        // sentence at a time (joined text can tokenise a little differently).
        Self { max_tokens: 230, overlap: 0.15 }
    }
}

/// A sentence-sized unit with its token count, so the tokenizer runs once per unit, not per chunk attempt.
struct Unit {
    text: String,
    tokens: usize,
    /// The unit ends a line or paragraph of the source: the chunk keeps the line break after it.
    ends_line: bool,
    start_ms: Option<u64>,
    end_ms: Option<u64>,
}

pub fn chunk(pieces: &[Piece], config: ChunkConfig, count_tokens: &dyn Fn(&str) -> usize) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut group: Vec<Unit> = Vec::new();
    let mut location: Option<&Location> = None;
    for piece in pieces {
        if location.is_some_and(|l| *l != piece.location) {
            pack(std::mem::take(&mut group), location.cloned().unwrap_or_default(), config, &mut chunks);
        }
        location = Some(&piece.location);
        for (text, tokens, ends_line) in units(&piece.text, config.max_tokens, count_tokens) {
            group.push(Unit { text, tokens, ends_line, start_ms: piece.start_ms, end_ms: piece.end_ms });
        }
        if let Some(last) = group.last_mut() {
            last.ends_line = true; // a piece is a paragraph, a slide's shape, a subtitle
        }
    }
    pack(group, location.cloned().unwrap_or_default(), config, &mut chunks);
    chunks
}

/// Packs a location's units into chunks of at most `max_tokens`, each starting with the tail of the previous.
fn pack(units: Vec<Unit>, location: Location, config: ChunkConfig, out: &mut Vec<Chunk>) {
    let overlap_budget = (config.max_tokens as f32 * config.overlap) as usize;
    let mut start = 0;
    while start < units.len() {
        let mut end = start;
        let mut tokens = 0;
        while end < units.len() && (end == start || tokens + units[end].tokens <= config.max_tokens) {
            tokens += units[end].tokens;
            end += 1;
        }
        let window = &units[start..end];
        let mut text = String::new();
        for (i, unit) in window.iter().enumerate() {
            if i > 0 {
                text.push(if window[i - 1].ends_line { '\n' } else { ' ' });
            }
            text.push_str(&unit.text);
        }
        out.push(Chunk {
            text,
            location: location.clone(),
            start_ms: window.iter().find_map(|u| u.start_ms),
            end_ms: window.iter().rev().find_map(|u| u.end_ms),
            token_count: tokens,
        });
        if end >= units.len() {
            break;
        }
        // Step back over whole units worth at most the overlap budget, but always move forward.
        let mut next = end;
        let mut carried = 0;
        while next > start + 1 && carried + units[next - 1].tokens <= overlap_budget {
            carried += units[next - 1].tokens;
            next -= 1;
        }
        start = next;
    }
}

/// Splits text into sentence units with their token counts and whether each ends a line; a sentence longer than
/// `max_tokens` is cut between words. Each sentence is tokenized once (the count that decides whether it fits is
/// the one kept): with the model's tokenizer, counting is most of the chunker's time.
fn units(text: &str, max_tokens: usize, count_tokens: &dyn Fn(&str) -> usize) -> Vec<(String, usize, bool)> {
    let mut out = Vec::new();
    for (sentence, ends_line) in sentences_in_lines(text) {
        let tokens = count_tokens(&sentence);
        if tokens <= max_tokens {
            out.push((sentence, tokens, ends_line));
            continue;
        }
        let first = out.len();
        let mut current = String::new();
        let mut current_tokens = 0;
        for word in sentence.split_whitespace() {
            let candidate = if current.is_empty() { word.to_owned() } else { format!("{current} {word}") };
            let candidate_tokens = count_tokens(&candidate);
            if !current.is_empty() && candidate_tokens > max_tokens {
                out.push((std::mem::take(&mut current), current_tokens, false));
                current = word.to_owned();
                current_tokens = count_tokens(word);
            } else {
                current = candidate;
                current_tokens = candidate_tokens;
            }
        }
        if !current.is_empty() {
            out.push((current, current_tokens, false));
        }
        if out.len() > first {
            let last = out.len() - 1;
            out[last].2 = ends_line;
        }
    }
    out
}

/// Sentence boundaries: `.`, `!`, `?` or `:` followed by whitespace, and line breaks that end a paragraph or
/// a list item. Whitespace inside a sentence is folded to single spaces.
pub fn sentences(text: &str) -> Vec<String> {
    sentences_in_lines(text).into_iter().map(|(sentence, _)| sentence).collect()
}

/// [`sentences`], each with whether it ends its line.
fn sentences_in_lines(text: &str) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for block in text.split("\n\n").flat_map(|b| b.split('\n')) {
        let block = block.split_whitespace().collect::<Vec<_>>().join(" ");
        if block.is_empty() {
            continue;
        }
        let mut current = String::new();
        let mut chars = block.chars().peekable();
        while let Some(ch) = chars.next() {
            current.push(ch);
            if matches!(ch, '.' | '!' | '?' | ':') && chars.peek().is_some_and(|c| c.is_whitespace()) {
                out.push((current.trim().to_owned(), false));
                current.clear();
            }
        }
        if !current.trim().is_empty() {
            out.push((current.trim().to_owned(), false));
        }
        if let Some(last) = out.last_mut() {
            last.1 = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> usize {
        text.split_whitespace().count()
    }

    fn piece(text: &str, page: u32) -> Piece {
        Piece { text: text.into(), location: Location { page: Some(page), ..Location::default() }, ..Piece::default() }
    }

    #[test]
    fn line_breaks_of_the_source_are_kept_and_sentences_of_a_line_stay_on_it() {
        let code = piece("Example:\nfor x in range(3):\n    print(x)\nIt prints. Then stops.", 1);
        let chunks = chunk(&[code], ChunkConfig::default(), &words);
        assert_eq!(chunks[0].text, "Example:\nfor x in range(3):\nprint(x)\nIt prints. Then stops.");
    }

    #[test]
    fn short_sections_of_one_page_merge_and_pages_never_mix() {
        let pieces = [piece("Loops repeat.", 1), piece("Ranges count.", 1), piece("Functions return.", 2)];
        let chunks = chunk(&pieces, ChunkConfig::default(), &words);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].text, "Loops repeat.\nRanges count.", "paragraphs keep their line break");
        assert_eq!(chunks[0].location.page, Some(1));
        assert_eq!(chunks[1].location.page, Some(2));
    }

    #[test]
    fn long_text_is_cut_within_budget_with_overlap_and_no_split_words() {
        let sentence = |i: usize| format!("Sentence number {i} talks about loops and ranges.");
        let text: Vec<String> = (0..100).map(sentence).collect();
        let config = ChunkConfig { max_tokens: 100, overlap: 0.15 };
        let chunks = chunk(&[piece(&text.join(" "), 3)], config, &words);
        assert!(chunks.len() > 5);
        for c in &chunks {
            assert!(c.token_count <= 100, "{}", c.token_count);
            assert!(c.text.starts_with("Sentence number"), "starts on a sentence: {}", c.text);
        }
        for pair in chunks.windows(2) {
            let last_of_first = pair[0].text.rsplit(". ").next().unwrap();
            assert!(pair[1].text.contains(last_of_first.trim_end_matches('.')), "neighbours overlap");
        }
        let all: String = chunks.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join(" ");
        for i in 0..100 {
            assert!(all.contains(&sentence(i)), "nothing is lost: {i}");
        }
    }

    #[test]
    fn an_overlong_sentence_is_cut_between_words() {
        let long = vec!["word"; 500].join(" ");
        let chunks = chunk(&[piece(&long, 1)], ChunkConfig { max_tokens: 100, overlap: 0.1 }, &words);
        assert!(chunks.iter().all(|c| c.token_count <= 100));
        assert!(chunks.iter().all(|c| c.text.split(' ').all(|w| w == "word")));
        assert_eq!(chunks.iter().map(|c| c.token_count).sum::<usize>(), 500);
    }

    #[test]
    fn timed_cues_merge_and_keep_their_span() {
        let cue = |text: &str, start: u64, end: u64| Piece {
            text: text.into(),
            start_ms: Some(start),
            end_ms: Some(end),
            ..Piece::default()
        };
        let chunks =
            chunk(&[cue("Hello class.", 0, 1500), cue("Today: loops.", 1500, 4000)], ChunkConfig::default(), &words);
        assert_eq!(chunks.len(), 1);
        assert_eq!((chunks[0].start_ms, chunks[0].end_ms), (Some(0), Some(4000)));
    }

    #[test]
    fn each_sentence_is_tokenized_once() {
        let calls = std::cell::Cell::new(0);
        let counting = |t: &str| {
            calls.set(calls.get() + 1);
            words(t)
        };
        let text: Vec<String> = (0..50).map(|i| format!("Sentence {i} is short.")).collect();
        chunk(&[piece(&text.join(" "), 1)], ChunkConfig { max_tokens: 40, overlap: 0.15 }, &counting);
        assert_eq!(calls.get(), 50);
    }

    #[test]
    fn empty_input_gives_no_chunks() {
        assert!(chunk(&[], ChunkConfig::default(), &words).is_empty());
        assert!(chunk(&[piece("   \n\n ", 1)], ChunkConfig::default(), &words).is_empty());
    }
}
