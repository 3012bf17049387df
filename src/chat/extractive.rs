//! The extractive tutor, for a persona with no language model: it cannot write, so it quotes. It leads with the
//! sentences of the sources that answer the question (the ones that share its rarest words), each cited, then
//! gives the passages they come from as written, line breaks and code included, so the answer is read first and
//! checked in context after.

use std::collections::{HashMap, HashSet};

use super::prompt::location;
use crate::ingest::views::SearchHit;

/// How many sentences lead the answer.
const LEAD_SENTENCES: usize = 2;
/// Sentences longer than this are not quoted as a lead (a run-on extraction, a table flattened into a line).
const LEAD_MAX_CHARS: usize = 400;

const INTRO: &str = "No language model is set up for this tutor, so this answer is quoted from your course material \
    as written.";

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

/// The answer in pieces (the lead, then one per passage), so it streams like a model's. The lead may come from
/// any of `sources` (the answering sentence is often in the fourth or fifth hit); the first `passages` of them are
/// quoted, and so is every passage a lead sentence comes from, so each lead is read in its context.
pub fn answer(question: &str, sources: &[SearchHit], passages: usize) -> Vec<String> {
    let mut pieces = vec![format!("{INTRO}\n")];
    let lead = lead(question, sources);
    if !lead.is_empty() {
        let lines: Vec<String> = lead.iter().map(|(i, s)| format!("> **{}** [{}]", literal(s), i + 1)).collect();
        pieces.push(format!("\n{}\n\nWhere this comes from:\n", lines.join("\n>\n")));
    }
    for (i, hit) in sources.iter().enumerate() {
        if i >= passages && !lead.iter().any(|(from, _)| *from == i) {
            continue;
        }
        // A Markdown document's own formatting is meant to render; any other text is shown as written.
        let markdown = [".md", ".markdown"].iter().any(|e| hit.document_name.to_lowercase().ends_with(e));
        let line = |l: &str| if markdown { l.to_owned() } else { quoted_line(l) };
        let quoted: Vec<String> = hit.text.trim().lines().map(|l| format!("> {}", line(l))).collect();
        pieces.push(format!(
            "\n{}\n— {}{} [{}]\n",
            quoted.join("\n"),
            literal(&hit.document_name),
            location(hit),
            i + 1
        ));
    }
    pieces
}

/// `text` in Markdown that shows it as written: each character Markdown could read as emphasis, code, a link,
/// HTML, a table, strikethrough or an escape is escaped, so Python's `__init__` does not turn into a bold "init"
/// and a source's own `[2]` is not taken for a citation.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A source line quoted as written: [`literal`], its first character escaped where Markdown would read the line
/// as a heading, a list item or a rule (`# a comment`, `- item`, `1. step`, `===`), and its indentation kept
/// as no-break spaces, which Markdown does not read as a code block, so code keeps its shape.
fn quoted_line(line: &str) -> String {
    let body = line.trim_start();
    let indent = "\u{a0}".repeat(line.len() - body.len());
    let mut text = literal(body);
    let ordered = body.find(['.', ')']).is_some_and(|at| {
        at > 0
            && body[..at].chars().all(|c| c.is_ascii_digit())
            && body[at + 1..].chars().next().is_none_or(char::is_whitespace)
    });
    if ordered {
        let at = text.find(['.', ')']).unwrap_or(0);
        text.insert(at, '\\');
    } else if body.starts_with(['#', '-', '+', '=']) {
        text.insert(0, '\\');
    }
    indent + &text
}

/// A follow-up ("say that more simply") answered without a model: it cannot rephrase, so it quotes what answered
/// `earlier_question` again, the sentences that answer it first.
pub fn follow_up(earlier_question: &str, sources: &[SearchHit]) -> Vec<String> {
    let mut pieces = answer(earlier_question, sources, sources.len());
    pieces[0] = format!(
        "No language model is set up for this tutor, so I can't put it in other words. This is what your course \
         material says about your question \"{}\", quoted as written.\n",
        literal(earlier_question.trim())
    );
    pieces
}

/// The sentences that answer best, as `(source index, sentence)`, best first. A sentence scores the summed rarity
/// of the question's words it holds (rarity among all the sources' sentences, so a word every sentence has counts
/// for little), a little less for each source further down the ranking. None when no sentence shares a word.
fn lead(question: &str, sources: &[SearchHit]) -> Vec<(usize, String)> {
    let wanted: HashSet<String> = words(question).collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let sentences: Vec<(usize, String, HashSet<String>)> = sources
        .iter()
        .enumerate()
        .flat_map(|(i, hit)| sentences(&hit.text).into_iter().map(move |s| (i, s)))
        .map(|(i, s)| {
            let found = words(&s).filter(|w| wanted.contains(w)).collect();
            (i, s, found)
        })
        .collect();
    let mut frequency: HashMap<&str, usize> = HashMap::new();
    for (_, _, found) in &sentences {
        for word in found {
            *frequency.entry(word.as_str()).or_default() += 1;
        }
    }
    let total = sentences.len() as f32;
    let mut scored: Vec<(f32, usize, &str)> = sentences
        .iter()
        .filter(|(_, s, found)| !found.is_empty() && s.chars().count() <= LEAD_MAX_CHARS && prose(s) && whole(s))
        .map(|(i, s, found)| {
            let rarity: f32 = found.iter().map(|w| (1.0 + total / frequency[w.as_str()] as f32).ln()).sum();
            (rarity * (1.0 - 0.1 * (*i).min(5) as f32), *i, s.as_str())
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut lead: Vec<(usize, String)> = Vec::new();
    for (_, i, sentence) in scored {
        let text = sentence.split_whitespace().collect::<Vec<_>>().join(" ");
        if !lead.iter().any(|(_, s)| *s == text) {
            lead.push((i, text));
        }
        if lead.len() == LEAD_SENTENCES {
            break;
        }
    }
    lead
}

/// A text's sentences: its paragraphs (see [`paragraphs`]) split after `.`, `!` or `?` before a capital or a digit.
fn sentences(text: &str) -> Vec<String> {
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
fn prose(sentence: &str) -> bool {
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
            document_name: "notes.pdf".into(),
            collection_id: Uuid::nil(),
            text: text.into(),
            score: 1.0,
            relevance: None,
            page: Some(3),
            slide: None,
            start_ms: None,
            end_ms: None,
            heading_path: String::new(),
        }
    }

    #[test]
    fn the_answering_sentence_leads_even_deep_in_a_passage() {
        let filler = "Plants are living things that grow in many places around the world. ".repeat(30);
        let passage = format!("{filler}Chlorophyll absorbs sunlight and gives leaves their green colour. More text.");
        let pieces = answer("What gives leaves their green colour?", &[hit(&passage)], 3);
        assert!(pieces[0].starts_with("No language model is set up"));
        assert_eq!(
            pieces[1],
            "\n> **Chlorophyll absorbs sunlight and gives leaves their green colour.** [1]\n\nWhere this comes from:\n"
        );
        assert!(pieces[2].contains("> Plants are living things") && pieces[2].ends_with("— notes.pdf, page 3 [1]\n"));
    }

    #[test]
    fn rare_words_outweigh_common_ones_and_code_keeps_its_lines() {
        let first =
            hit("An exception is raised when an error occurs. Every exception has a type. The finally clause runs \
             whatever happens.");
        let second = hit("Example:\n\n    try:\n        risky()\n    finally:\n        cleanup()");
        let pieces = answer("What does the finally clause do when an exception is raised?", &[first, second], 3);
        assert!(pieces[1].starts_with("\n> **The finally clause runs whatever happens.** [1]"), "{}", pieces[1]);
        let indented = |n: usize, code: &str| format!("> {}{code}", "\u{a0}".repeat(n));
        let lines = format!("{}\n{}", indented(4, "try:"), indented(8, "risky()"));
        assert!(pieces[3].contains(&lines), "code keeps its lines and indentation: {}", pieces[3]);
    }

    #[test]
    fn prose_leads_even_beside_code_lines() {
        let text =
            "5.1.1. Using Lists as Stacks\nTo add an item to the top of the stack, use append().\n>>> stack.append(6)";
        let pieces = answer("How do I add to a stack?", &[hit(text)], 3);
        assert!(
            pieces[1].starts_with("\n> **To add an item to the top of the stack, use append().** [1]\n\n"),
            "{pieces:?}"
        );
        assert!(sentences(text).iter().all(|s| !s.contains(">>>")));
    }

    #[test]
    fn flattened_code_never_leads() {
        assert!(prose("The finally clause runs whatever happens (even after a return)."));
        assert!(prose(
            "so a.insert(0, x) inserts at the front of the list, and list.remove(x) removes the first match"
        ));
        assert!(!prose(r#"it is attached: >>> try: ... open("database.sqlite") ... except OSError: ... raise"#));
    }

    #[test]
    fn no_shared_word_means_no_lead_only_the_passages() {
        let pieces = answer("Why?", &[hit("Volcanoes erupt when magma rises through the crust.")], 3);
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert!(sentences("Too short. Dr. Smith wrote 3 books. Then more words came along here.").len() == 2);
    }

    #[test]
    fn a_sentence_a_pdf_wrapped_over_lines_leads_whole_and_headings_stay_apart() {
        let text = "4.4. Loops\nLoop statements may have an else clause; it is executed when the loop terminates\n\
                    through exhaustion of the iterable, but not when the loop is terminated by a break.\n\
                    8.4. Raising Exceptions\nThe raise statement allows the programmer to force a specified\n\
                    exception to occur.";
        let found = sentences(text);
        assert!(
            found.contains(
                &"Loop statements may have an else clause; it is executed when the loop terminates \
                 through exhaustion of the iterable, but not when the loop is terminated by a break."
                    .to_owned()
            ),
            "{found:?}"
        );
        assert!(
            found
                .contains(&"The raise statement allows the programmer to force a specified exception to occur.".into()),
            "{found:?}"
        );
        let pieces = answer("When does the else clause of a loop run?", &[hit(text)], 3);
        assert!(pieces[1].contains("terminates through exhaustion of the iterable"), "{}", pieces[1]);
    }

    #[test]
    fn a_lead_from_a_later_source_brings_its_passage_and_others_stay_out() {
        let filler = |topic: &str| hit(&format!("Notes about {topic} that say nothing of the question asked."));
        let mut sources = vec![filler("plants"), filler("rivers"), filler("clouds"), filler("rocks")];
        sources.push(hit("The pass statement does nothing and fills an empty loop body."));
        let pieces = answer("Which statement does nothing in an empty loop body?", &sources, 2);
        assert!(
            pieces[1].contains("**The pass statement does nothing and fills an empty loop body.** [5]"),
            "{pieces:?}"
        );
        let quoted: Vec<&String> = pieces.iter().skip(2).collect();
        assert_eq!(quoted.len(), 3, "the first two and the lead's own: {quoted:?}");
        assert!(quoted[0].ends_with("[1]\n") && quoted[1].ends_with("[2]\n") && quoted[2].ends_with("[5]\n"));
    }

    #[test]
    fn quoted_sources_read_as_written_in_markdown() {
        assert_eq!(
            literal("__init__ and *args, [2] <b> a|b ~x~ `c` \\n"),
            r"\_\_init\_\_ and \*args, \[2\] \<b\> a\|b \~x\~ \`c\` \\n"
        );
        assert_eq!(quoted_line(">>> sum(range(4))"), r"\>\>\> sum(range(4))");
        assert_eq!(quoted_line("# a comment"), r"\# a comment");
        assert_eq!(quoted_line("- item"), r"\- item");
        assert_eq!(quoted_line("12. step"), r"12\. step");
        assert_eq!(quoted_line("3.0e+5 is a number"), "3.0e+5 is a number");
        assert_eq!(quoted_line("  x = 1"), "\u{a0}\u{a0}x = 1");
        assert_eq!(quoted_line("Plain prose, as it was."), "Plain prose, as it was.");
        let mut markdown = hit("Call **__init__** first.");
        markdown.document_name = "notes.md".into();
        let pieces = answer("Unrelated?", &[hit("Call **__init__** first."), markdown], 2);
        assert!(pieces[1].starts_with(concat!("\n", r"> Call \*\*\_\_init\_\_\*\* first.")), "{}", pieces[1]);
        assert!(pieces[2].starts_with("\n> Call **__init__** first."), "a Markdown source renders: {}", pieces[2]);
    }
}
