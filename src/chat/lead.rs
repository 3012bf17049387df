//! The sentences an extractive answer leads with (see `extractive`): the ones of the sources that answer the
//! question, chosen by meaning when an embedding model is at hand, by the question's rarest words otherwise.
//!
//! Shared words miss a student's paraphrase ("If I don't write any ON DELETE clause..." is answered by "If an
//! action is not explicitly specified, it defaults to NO ACTION"); the embedding model reads it. Measured through
//! the chat API on both eval sets (benches/README.md, 2026-11-30), the lead held an answer string in 24 of 44 and
//! 14 of 42 answerable turns by meaning, against 14 and 11 by words.

use std::collections::{HashMap, HashSet};

use crate::ingest::views::SearchHit;
use crate::platform::llm::embeddings::{EmbedError, Embedder};

/// How many sentences lead the answer.
const LEAD_SENTENCES: usize = 2;
/// Sentences longer than this are not quoted as a lead (a run-on extraction, a table flattened into a line).
const LEAD_MAX_CHARS: usize = 400;
/// Sentences embedded per answer: this many in reading order (the best sources' own) and this many of those that
/// share the question's rarest words, so a turn embeds at most twice this (on both eval sets as good a lead as
/// embedding all of a turn's ~60 sentences, for under half the model time).
const POOL: usize = 12;

/// Words too common to say what a question is about.
const STOPWORDS: &[&str] = &[
    "about", "after", "again", "also", "and", "any", "are", "because", "been", "before", "being", "between", "both",
    "but", "can", "could", "did", "does", "doing", "done", "each", "for", "from", "get", "had", "has", "have", "how",
    "into", "its", "just", "let", "like", "make", "many", "may", "more", "most", "much", "must", "not", "now", "off",
    "once", "one", "only", "other", "our", "out", "over", "own", "same", "say", "should", "some", "such", "tell",
    "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "too", "two",
    "under", "use", "used", "using", "very", "was", "way", "were", "what", "when", "where", "which", "while", "who",
    "whom", "why", "will", "with", "would", "you", "your",
];

/// A sentence that may lead: its source's index, its text with whitespace tidied, and the summed rarity of the
/// question's words it holds.
pub struct Candidate {
    source: usize,
    text: String,
    rarity: f32,
}

/// The lead, as `(source index, sentence)`, best first: by meaning when `embedder` is given (and answers), by
/// words otherwise. Empty when no sentence qualifies. Sentences the sentence gate already `measured` for this
/// question are not embedded again.
pub async fn choose(
    embedder: Option<&dyn Embedder>,
    question: &str,
    sources: &[SearchHit],
    measured: Option<&Measured>,
) -> Vec<(usize, String)> {
    let candidates = candidates(question, sources);
    if let Some(measured) = measured {
        let known: Option<Vec<f32>> = candidates.iter().map(|c| measured.0.get(&c.text).copied()).collect();
        if let Some(similarity) = known.filter(|_| !candidates.is_empty()) {
            return by_meaning(&candidates, &similarity);
        }
    }
    if let Some(embedder) = embedder
        && !candidates.is_empty()
    {
        let texts: Vec<&str> = candidates.iter().map(|c| c.text.as_str()).collect();
        match similarity(embedder, question, &texts).await {
            Ok(similarity) => return by_meaning(&candidates, &similarity),
            Err(error) => tracing::warn!(%error, "embedding the lead's candidate sentences failed; leading by words"),
        }
    }
    by_words(&candidates)
}

/// Most sentences compared with the question by [`measure`]: five passages of at most 1,200 word pieces
/// hold about a hundred; this bounds the model call whatever a passage holds.
const MAX_COMPARED: usize = 160;

/// Each sentence's cosine similarity with the question, by its text (whitespace tidied), as [`measure`] found it.
pub struct Measured(HashMap<String, f32>);

impl Measured {
    /// The closest sentence's similarity.
    pub fn closest(&self) -> f32 {
        self.0.values().copied().fold(f32::MIN, f32::max)
    }
}

/// The cosine similarity of the question with each sentence of `sources` (every sentence of four words or more, up
/// to [`MAX_COMPARED`]), by `embedder`. None when there is no sentence or the embedder fails (logged): the caller
/// then decides without it.
pub async fn measure(embedder: &dyn Embedder, question: &str, sources: &[SearchHit]) -> Option<Measured> {
    let mut texts: Vec<String> = Vec::new();
    for sentence in sources.iter().flat_map(|hit| sentences(&hit.text)).map(|s| tidy(&s)) {
        if texts.len() == MAX_COMPARED {
            break;
        }
        if !texts.contains(&sentence) {
            texts.push(sentence);
        }
    }
    if texts.is_empty() {
        return None;
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    match similarity(embedder, question, &refs).await {
        Ok(similarity) => Some(Measured(texts.into_iter().zip(similarity).collect())),
        Err(error) => {
            tracing::warn!(%error, "embedding the sources' sentences failed; the sentence gate is skipped");
            None
        }
    }
}

/// Each of `texts`' cosine similarity with `question`, in one model call (the embedder's vectors are
/// L2-normalised: a dot product is their cosine).
async fn similarity(embedder: &dyn Embedder, question: &str, texts: &[&str]) -> Result<Vec<f32>, EmbedError> {
    let inputs: Vec<String> = std::iter::once(question).chain(texts.iter().copied()).map(str::to_owned).collect();
    let vectors = embedder.embed(&inputs).await?;
    let (question, texts) = vectors.split_first().ok_or_else(|| EmbedError::Inference("no vectors".into()))?;
    Ok(texts.iter().map(|v| v.iter().zip(question).map(|(a, b)| a * b).sum()).collect())
}

/// `text` with each run of whitespace made one space, as a sentence is quoted and compared.
fn tidy(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The sentences that may lead: whole prose sentences of the sources, at most [`POOL`] in reading order and
/// [`POOL`] sharing the question's rarest words (each scored as in [`by_words`]).
pub fn candidates(question: &str, sources: &[SearchHit]) -> Vec<Candidate> {
    let wanted: HashSet<String> = words(question).collect();
    let sentences: Vec<(usize, String, Vec<String>)> = sources
        .iter()
        .enumerate()
        .flat_map(|(i, hit)| sentences(&hit.text).into_iter().map(move |s| (i, s)))
        .map(|(i, s)| {
            let mut found: Vec<String> = words(&s).filter(|w| wanted.contains(w)).collect();
            found.sort();
            found.dedup();
            (i, s, found)
        })
        .collect();
    // Rarity among all the sources' sentences, so a word every sentence has counts for little.
    let mut frequency: HashMap<&str, usize> = HashMap::new();
    for (_, _, found) in &sentences {
        for word in found {
            *frequency.entry(word.as_str()).or_default() += 1;
        }
    }
    let total = sentences.len() as f32;
    let mut all: Vec<Candidate> = Vec::new();
    for (source, sentence, found) in &sentences {
        if sentence.chars().count() > LEAD_MAX_CHARS || !prose(sentence) || !whole(sentence) {
            continue;
        }
        let text = tidy(sentence);
        if all.iter().any(|c| c.text == text) {
            continue;
        }
        let rarity = found.iter().map(|w| (1.0 + total / frequency[w.as_str()] as f32).ln()).sum();
        all.push(Candidate { source: *source, text, rarity });
    }
    let mut by_rarity: Vec<usize> = (0..all.len()).filter(|&k| all[k].rarity > 0.0).collect();
    by_rarity.sort_by(|&a, &b| word_score(&all[b]).total_cmp(&word_score(&all[a])).then(a.cmp(&b)));
    let keep: HashSet<usize> = (0..all.len().min(POOL)).chain(by_rarity.into_iter().take(POOL)).collect();
    all.into_iter().enumerate().filter(|(k, _)| keep.contains(k)).map(|(_, c)| c).collect()
}

/// By words: the summed rarity of the question's words a sentence holds, a tenth less for each source further
/// down the ranking (up to half). Only sentences that share a word.
pub fn by_words(candidates: &[Candidate]) -> Vec<(usize, String)> {
    let scores: Vec<f32> = candidates.iter().map(|c| if c.rarity > 0.0 { word_score(c) } else { f32::NAN }).collect();
    best(candidates, &scores)
}

/// By meaning: the cosine of the sentence with the question (`similarity`, one per candidate), a twentieth less
/// for each source further down the ranking (up to a quarter), so a close sentence of a lower source still leads.
fn by_meaning(candidates: &[Candidate], similarity: &[f32]) -> Vec<(usize, String)> {
    let scores: Vec<f32> =
        candidates.iter().zip(similarity).map(|(c, s)| s * (1.0 - 0.05 * c.source.min(5) as f32)).collect();
    best(candidates, &scores)
}

fn word_score(c: &Candidate) -> f32 {
    c.rarity * (1.0 - 0.1 * c.source.min(5) as f32)
}

/// The [`LEAD_SENTENCES`] best-scoring candidates (NaN scores never lead), ties in reading order.
fn best(candidates: &[Candidate], scores: &[f32]) -> Vec<(usize, String)> {
    let mut order: Vec<usize> = (0..candidates.len()).filter(|&k| !scores[k].is_nan()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.into_iter().take(LEAD_SENTENCES).map(|k| (candidates[k].source, candidates[k].text.clone())).collect()
}

/// A text's sentences: its paragraphs (see [`paragraphs`]) split after `.`, `!` or `?` before a capital or a digit.
pub(super) fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in paragraphs(text) {
        let mut start = 0;
        let chars: Vec<(usize, char)> = paragraph.char_indices().collect();
        for (k, &(at, c)) in chars.iter().enumerate() {
            let ends = matches!(c, '.' | '!' | '?')
                && chars.get(k + 1).is_some_and(|&(_, n)| n.is_whitespace())
                && chars.get(k + 2).is_some_and(|&(_, n)| n.is_uppercase() || n.is_ascii_digit());
            if ends {
                out.push(paragraph[start..=at].trim().to_owned());
                start = at + c.len_utf8();
            }
        }
        out.push(paragraph[start..].trim().to_owned());
    }
    out.retain(|s| s.split_whitespace().count() >= 4);
    out
}

/// A text's prose, one string per paragraph. Chunks keep their source's line breaks, and a PDF's or a hard-wrapped
/// text file's break lines mid-sentence ("...when the loop terminates\nthrough exhaustion of the iterable"), so a
/// line joins the one before it when that one was cut by the layout: it ends without a sentence's punctuation,
/// and either it is a long line or this one starts in lower case (a short line standing alone is a heading). A
/// line of code (indented, or a prompt such as `>>>` or `...`) is no prose and ends the paragraph, as do a blank
/// line, a list item, a Markdown heading and a table row.
fn paragraphs(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut previous: Option<&str> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        let code = ["    ", "\t", ">>>", "..."].iter().any(|p| line.starts_with(p)) || trimmed.starts_with(">>>");
        if trimmed.is_empty() || code {
            previous = None;
            continue;
        }
        match (out.last_mut(), previous) {
            (Some(paragraph), Some(before)) if wrapped(before, trimmed) => {
                paragraph.push(' ');
                paragraph.push_str(trimmed);
            }
            _ => out.push(trimmed.to_owned()),
        }
        previous = Some(trimmed);
    }
    out
}

/// Whether `next` continues the sentence `line` was cut from by the layout.
fn wrapped(line: &str, next: &str) -> bool {
    /// Shorter lines than this are taken for headings or labels, unless the next one starts in lower case.
    const WRAPPED_LINE_CHARS: usize = 50;
    let ends = line.ends_with(['.', '!', '?', ':', ';']);
    let markup = |l: &str| l.starts_with(['#', '|']);
    let item = next.starts_with(['-', '*', '\u{2022}'])
        || next.split_once(['.', ')']).is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    let lower = next.chars().next().is_some_and(char::is_lowercase);
    !ends && !markup(line) && !markup(next) && !item && (lower || line.chars().count() >= WRAPPED_LINE_CHARS)
}

/// Whether a sentence ends like one: a heading or a cut-off fragment answers nothing.
fn whole(sentence: &str) -> bool {
    sentence.trim_end_matches(['"', '\'', ')', '\u{201d}', '\u{2019}']).ends_with(['.', '!', '?'])
}

/// Whether a sentence reads as prose rather than code flattened into a line (a PDF's examples lose their line
/// breaks): few brackets, quotes, operators or prompts per character.
pub(super) fn prose(sentence: &str) -> bool {
    let code = sentence.chars().filter(|c| "()[]{}<>=\"`#$%&*+/\\|~^@".contains(*c)).count();
    code * 20 <= sentence.chars().count()
}

/// A text's content words, lowercased, with a plural or verb ending taken off so "exceptions" meets "exception".
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric() && c != '_')
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 && !STOPWORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
}

fn stem(word: &str) -> String {
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(base) = word.strip_suffix(suffix)
            && base.chars().count() >= 4
        {
            return base.to_owned();
        }
    }
    word.to_owned()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn hit(text: &str) -> SearchHit {
        SearchHit {
            chunk_id: Uuid::nil(),
            document_id: Uuid::nil(),
            document_name: "notes.txt".into(),
            collection_id: Uuid::nil(),
            text: text.into(),
            score: 1.0,
            relevance: None,
            page: None,
            slide: None,
            start_ms: None,
            end_ms: None,
            heading_path: String::new(),
        }
    }

    const QUESTION: &str = "What happens to the tracks when I delete their artist?";
    /// The answering sentence shares no word with the question; the other two share its rarest ones.
    const SOURCES: [&str; 2] = [
        "Each artist has tracks. Tracks of an artist are listed in the artist table by their artist id.",
        "Child rows associated with a removed parent row are also removed by the cascade action.",
    ];

    /// Vectors that say whether a text is about removing rows, as a model would read the paraphrase.
    struct Reader {
        fails: bool,
    }

    #[async_trait::async_trait]
    impl Embedder for Reader {
        fn name(&self) -> &str {
            "reader"
        }
        fn dimensions(&self) -> usize {
            2
        }
        fn max_tokens(&self) -> usize {
            256
        }
        fn count_tokens(&self, text: &str) -> usize {
            text.split_whitespace().count()
        }
        async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
            if self.fails {
                return Err(EmbedError::Inference("model gone".into()));
            }
            let about_removal = |t: &str| ["delete", "removed"].iter().any(|w| t.contains(w));
            Ok(texts.iter().map(|t| if about_removal(t) { vec![1.0, 0.0] } else { vec![0.0, 1.0] }).collect())
        }
    }

    #[tokio::test]
    async fn by_meaning_the_paraphrase_leads_where_shared_words_miss_it() {
        let sources: Vec<SearchHit> = SOURCES.iter().map(|t| hit(t)).collect();
        let removal = "Child rows associated with a removed parent row are also removed by the cascade action.";
        let lead = choose(Some(&Reader { fails: false }), QUESTION, &sources, None).await;
        assert_eq!(lead[0], (1, removal.to_owned()), "{lead:?}");
        let by_words = choose(None, QUESTION, &sources, None).await;
        assert!(by_words.iter().all(|(source, _)| *source == 0), "words find only the artist sentences: {by_words:?}");
        // An embedder that fails still leaves a lead, by words.
        assert_eq!(choose(Some(&Reader { fails: true }), QUESTION, &sources, None).await, by_words);
    }

    #[tokio::test]
    async fn the_closest_sentence_is_measured_over_every_source_and_a_failure_measures_nothing() {
        let sources: Vec<SearchHit> = SOURCES.iter().map(|t| hit(t)).collect();
        let reader = Reader { fails: false };
        let closest = |m: Option<Measured>| m.map(|m| m.closest());
        assert_eq!(closest(measure(&reader, QUESTION, &sources).await), Some(1.0), "the second source's sentence");
        assert_eq!(closest(measure(&reader, "Which tracks are listed?", &sources).await), Some(1.0));
        assert_eq!(closest(measure(&reader, QUESTION, &sources[..1]).await), Some(0.0), "none about removing");
        assert!(measure(&reader, QUESTION, &[hit("Too short.")]).await.is_none());
        assert!(measure(&Reader { fails: true }, QUESTION, &sources).await.is_none());
    }

    #[tokio::test]
    async fn sentences_the_gate_measured_lead_without_another_model_call() {
        let sources: Vec<SearchHit> = SOURCES.iter().map(|t| hit(t)).collect();
        let measured = measure(&Reader { fails: false }, QUESTION, &sources).await.unwrap();
        // This embedder fails if called: the lead by meaning comes from the measured sentences alone.
        let lead = choose(Some(&Reader { fails: true }), QUESTION, &sources, Some(&measured)).await;
        assert_eq!(lead[0].0, 1, "{lead:?}");
    }

    #[test]
    fn a_lower_source_leads_only_when_it_reads_clearly_closer() {
        let sources: Vec<SearchHit> =
            ["First source sentence here.", "Second source sentence here."].iter().map(|t| hit(t)).collect();
        let candidates = candidates("sentence", &sources);
        assert_eq!(by_meaning(&candidates, &[0.60, 0.62])[0].0, 0, "a hair closer is not enough");
        assert_eq!(by_meaning(&candidates, &[0.50, 0.62])[0].0, 1);
        assert_eq!(by_meaning(&candidates, &[0.5, 0.4]).len(), LEAD_SENTENCES);
    }

    #[test]
    fn the_sentences_embedded_per_answer_are_bounded_and_keep_the_rare_word_ones() {
        let filler: String = (0..40).map(|i| format!("River {i} carries water from the hills to the sea. ")).collect();
        let text = format!("{filler}The osmosis of water through a membrane is slow. {filler}");
        let candidates = candidates("What is osmosis?", &[hit(&text)]);
        assert_eq!(candidates.len(), POOL + 1, "the first ones in reading order and the one that shares a word");
        assert!(candidates.iter().any(|c| c.text.contains("osmosis")), "the rare-word sentence is embedded");
        assert_eq!(by_words(&candidates)[0].1, "The osmosis of water through a membrane is slow.");
    }
}
