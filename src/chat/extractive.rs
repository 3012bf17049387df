//! The extractive tutor, for a persona with no language model: it cannot write, so it quotes. It leads with the
//! sentences of the sources that answer the question (see `lead`), each cited, then
//! gives the passages they come from as written, line breaks and code included, so the answer is read first and
//! checked in context after.

use super::prompt::location;
use crate::ingest::views::SearchHit;

const INTRO: &str = "No language model is set up for this tutor, so this answer is quoted from your course material \
    as written.";

/// The answer in pieces (the lead, then one per passage), so it streams like a model's. The lead may come from
/// any of `sources` (the answering sentence is often in the fourth or fifth hit); the first `passages` of them are
/// quoted, and so is every passage a lead sentence comes from, so each lead is read in its context. `lead` is
/// `(source index, sentence)`, best first (see `lead::choose`).
pub fn answer(lead: &[(usize, String)], sources: &[SearchHit], passages: usize) -> Vec<String> {
    let mut pieces = vec![format!("{INTRO}\n")];
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
pub fn follow_up(earlier_question: &str, lead: &[(usize, String)], sources: &[SearchHit]) -> Vec<String> {
    let mut pieces = answer(lead, sources, sources.len());
    pieces[0] = format!(
        "No language model is set up for this tutor, so I can't put it in other words. This is what your course \
         material says about your question \"{}\", quoted as written.\n",
        literal(earlier_question.trim())
    );
    pieces
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::chat::lead::{self, prose, sentences};

    /// The answer as the tutor gives it without an embedding model: led by words.
    fn answer(question: &str, sources: &[SearchHit], passages: usize) -> Vec<String> {
        super::answer(&lead::by_words(&lead::candidates(question, sources)), sources, passages)
    }

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
