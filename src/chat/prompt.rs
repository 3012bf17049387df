//! The words of a turn: the prompt (persona, numbered sources, history), the citations an answer made, the
//! extractive tutor's answer and the "not covered" answer.

use super::store::HistoryRow;
use super::views::Citation;
use crate::ingest::views::SearchHit;
use crate::persona::{Persona, TeachingMode};
use crate::platform::llm::chat::ChatMessage;

/// Said instead of calling the model when the material has nothing relevant.
pub const NOT_COVERED: &str = "Your course material does not cover this, so I won't guess. Try asking it another \
    way, or ask your teacher.";

/// [`NOT_COVERED`], naming the words the question rests on that the material never uses: the student sees why, and
/// can fix a misspelt word.
pub fn not_covered(unmatched: &[String]) -> String {
    let quoted: Vec<String> = unmatched.iter().take(5).map(|w| format!("\"{w}\"")).collect();
    let named = match quoted.as_slice() {
        [] => return NOT_COVERED.to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    };
    format!(
        "Your course material does not cover this: it never mentions {named}, so I won't guess. Check the \
         spelling, ask it another way, or ask your teacher."
    )
}

/// Said instead of calling the model when the persona has no collections to answer from.
pub const NO_MATERIAL: &str =
    "I have no course material to answer from yet. Ask your teacher to add some to this tutor.";

/// Added to the rules when the best source is only loosely related to the question (see `chat.borderline_relevance`).
pub const BORDERLINE: &str = "The sources below are only loosely related to this question and may well not \
    answer it. Unless one of them clearly does, say that the course material does not cover it.";

/// The system prompt: who the tutor is, how it teaches, the sources and the citing and cue rules; `borderline` when
/// the sources may not answer the question.
pub fn system_prompt(persona: &Persona, sources: &[SearchHit], borderline: bool) -> String {
    let mut prompt = format!("You are {}, a tutor for students of a school.", persona.name);
    if !persona.description.is_empty() {
        prompt.push_str(&format!(" {}", persona.description));
    }
    if !persona.tone.is_empty() {
        prompt.push_str(&format!("\nTone: {}.", persona.tone));
    }
    prompt.push_str(match persona.teaching_mode {
        TeachingMode::Direct => "\nTeaching mode: direct. Answer the question clearly, then check understanding.",
        TeachingMode::Socratic => {
            "\nTeaching mode: socratic. Do not give the final answer straight away: guide the student with \
             questions and hints, one step at a time, and confirm the answer once they reach it."
        }
    });
    if !persona.instructions.is_empty() {
        prompt.push_str(&format!("\nThe teacher's instructions:\n{}", persona.instructions));
    }
    prompt.push_str(
        "\n\nAnswer only from the numbered sources below. After each statement taken from a source, cite it as \
         [n] with its number. If the sources do not answer the question, say that the course material does not \
         cover it; never invent facts.\nYou may add avatar cues inline, on their own: [cue:encourage] when the \
         student struggles, [cue:celebrate] when they get something right. They are not shown to the student.\n",
    );
    if borderline {
        prompt.push_str(BORDERLINE);
        prompt.push('\n');
    }
    prompt.push_str("\nSources:\n");
    for (i, hit) in sources.iter().enumerate() {
        prompt.push_str(&format!("[{}] {}{}\n{}\n\n", i + 1, hit.document_name, location(hit), hit.text.trim()));
    }
    prompt
}

/// Where in its document a hit sits, as ", page 3", ", slide 2" or ", at 1:05" (nothing for plain text).
pub(super) fn location(hit: &SearchHit) -> String {
    match (hit.page, hit.slide, hit.start_ms) {
        (Some(page), _, _) => format!(", page {page}"),
        (_, Some(slide), _) => format!(", slide {slide}"),
        (_, _, Some(ms)) => format!(", at {}:{:02}", ms / 60_000, (ms / 1000) % 60),
        _ => String::new(),
    }
}

/// Rough token count: about four characters a token for English text. Only used to fit history in a budget.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count() / 4 + 1
}

/// The earlier exchange that fits in `budget` tokens, oldest first. `newest_first` are the candidates; failed
/// answers and empty cancelled ones are left out (the model would only repeat their breakage).
pub fn history(newest_first: &[HistoryRow], budget: usize) -> Vec<ChatMessage> {
    let mut used = 0;
    let mut kept = Vec::new();
    for m in newest_first {
        if m.status == "failed" || m.content.trim().is_empty() {
            continue;
        }
        let cost = estimate_tokens(&m.content);
        if used + cost > budget {
            break;
        }
        used += cost;
        kept.push(if m.role == "user" { ChatMessage::user(&m.content) } else { ChatMessage::assistant(&m.content) });
    }
    kept.reverse();
    kept
}

/// Source numbers cited in `text` as `[n]`, `[n, m]` or `[n][m]`, in order of first citation. A bracket counts
/// only when every number in it is a source's (`1..=sources`): a list quoted from code, `[0, 1, 2, 3]`, cites
/// nothing.
pub fn cited(text: &str, sources: usize) -> Vec<usize> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inside = &rest[..close];
        let numbers: Option<Vec<usize>> = inside.split(',').map(|n| n.trim().parse().ok()).collect();
        let Some(numbers) = numbers.filter(|ns| ns.iter().all(|n| (1..=sources).contains(n))) else { continue };
        for n in numbers {
            if !found.contains(&n) {
                found.push(n);
            }
        }
    }
    found
}

/// Citations of the sources the answer cited, or of every source when it cited none; in index order (`[1]`
/// before `[2]`), whatever order the answer mentions them in, so chips read like a numbered list.
pub fn citations(text: &str, sources: &[SearchHit], snippet_chars: usize) -> Vec<Citation> {
    let mut indices = cited(text, sources.len());
    if indices.is_empty() {
        indices = (1..=sources.len()).collect();
    }
    indices.sort_unstable();
    indices.into_iter().map(|i| citation(i, &sources[i - 1], snippet_chars)).collect()
}

pub fn citation(index: usize, hit: &SearchHit, snippet_chars: usize) -> Citation {
    Citation {
        index,
        document_id: hit.document_id,
        document_name: hit.document_name.clone(),
        page: hit.page,
        slide: hit.slide,
        start_ms: hit.start_ms,
        end_ms: hit.end_ms,
        heading_path: hit.heading_path.clone(),
        chunk_id: Some(hit.chunk_id),
        snippet: snippet(&hit.text, snippet_chars),
    }
}

fn snippet(text: &str, max: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max).collect();
    if let Some(space) = cut.rfind(' ') {
        cut.truncate(space);
    }
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn citations_are_read_in_every_common_form() {
        assert_eq!(cited("Plants [2] make sugar [1, 3][2] and [9] and [x] and [1", 3), [2, 1, 3]);
        assert_eq!(cited("nothing cited", 3), Vec::<usize>::new());
        assert_eq!(cited("[0] [4]", 3), Vec::<usize>::new(), "out of range");
        assert_eq!(cited("range(4) gives [0, 1, 2, 3]; see [2]", 5), [2], "a list from code cites nothing");
    }

    #[test]
    fn citations_leave_in_index_order_with_their_place_and_chunk() {
        let hit = |n: u128, heading: &str| SearchHit {
            chunk_id: Uuid::from_u128(n),
            document_id: Uuid::from_u128(100 + n),
            document_name: format!("doc{n}.pdf"),
            collection_id: Uuid::from_u128(200),
            text: format!("text {n}"),
            score: 1.0,
            relevance: None,
            page: Some(i32::try_from(n).unwrap()),
            slide: None,
            start_ms: None,
            end_ms: None,
            heading_path: heading.into(),
        };
        let sources = [hit(1, "A"), hit(2, "B > C"), hit(3, "D")];
        let found = citations("First [3], then [1].", &sources, 50);
        let order: Vec<usize> = found.iter().map(|c| c.index).collect();
        assert_eq!(order, [1, 3], "numbered like a list, not in the order mentioned");
        assert_eq!((found[1].heading_path.as_str(), found[1].chunk_id), ("D", Some(Uuid::from_u128(3))));
        assert_eq!(found[1].page, Some(3));
    }

    #[test]
    fn not_covered_names_the_words_the_material_never_uses() {
        let words = |w: &[&str]| w.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        assert_eq!(not_covered(&[]), NOT_COVERED);
        assert!(not_covered(&words(&["tkinter"])).contains("never mentions \"tkinter\", so"));
        assert!(not_covered(&words(&["a", "b", "c"])).contains("\"a\", \"b\" or \"c\""));
        assert!(not_covered(&words(&["tkinter"])).contains("does not cover"), "the same opening as without words");
    }

    #[test]
    fn snippets_cut_on_a_word() {
        assert_eq!(snippet("one  two\nthree", 100), "one two three");
        assert_eq!(snippet("alpha beta gamma", 12), "alpha beta…");
    }

    #[test]
    fn history_keeps_the_newest_that_fit_in_order() {
        let row = |role: &str, content: &str, status: &str| HistoryRow {
            role: role.into(),
            content: content.into(),
            status: status.into(),
        };
        let newest_first = [
            row("assistant", "broken", "failed"),
            row("user", "second question", "complete"),
            row("assistant", "first answer", "complete"),
            row("user", &"x".repeat(400), "complete"),
        ];
        let kept = history(&newest_first, 10);
        assert_eq!(kept, [ChatMessage::assistant("first answer"), ChatMessage::user("second question")]);
    }
}
