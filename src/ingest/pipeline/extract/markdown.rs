//! Markdown: a section per heading block with the heading trail. The text stays Markdown source (code fences,
//! emphasis, links) — it reads fine to the tutor model and quotes stay verbatim; only structure is interpreted.
//!
//! A line scanner rather than a full CommonMark parser: all we need is ATX/setext headings, and to not mistake
//! `#` lines inside code fences or YAML front matter for headings.

use super::{ExtractError, Outline, Sink};

pub(super) fn extract(text: &str, sink: &mut Sink<'_>) -> Result<Option<String>, ExtractError> {
    let lines: Vec<&str> = text.lines().collect();
    let (front_title, body_start) = front_matter(&lines);
    let mut title = front_title;
    let mut outline = Outline::new();
    let mut fence: Option<(char, usize)> = None;
    let mut previous_blank = true;
    let mut i = body_start;
    while i < lines.len() {
        sink.checkpoint()?;
        let line = lines[i];
        i += 1;
        if let Some((ch, len)) = fence {
            if fence_marker(line).is_some_and(|(c, l, info)| c == ch && l >= len && info.is_empty()) {
                fence = None;
            }
            outline.paragraph(sink, line)?;
            continue;
        }
        if let Some((ch, len, _)) = fence_marker(line) {
            fence = Some((ch, len));
            outline.paragraph(sink, line)?;
            previous_blank = false;
            continue;
        }
        if let Some((level, heading)) = atx_heading(line) {
            if level == 1 && title.is_none() {
                title = Some(heading.to_owned());
            }
            outline.heading(sink, level, heading)?;
            previous_blank = true;
            continue;
        }
        // Setext: a one-line paragraph underlined with `===` (h1) or `---` (h2).
        let underline = lines.get(i).and_then(|next| setext_level(next));
        if let Some(level) = underline.filter(|_| previous_blank && !line.trim().is_empty() && indent(line) < 4) {
            if level == 1 && title.is_none() {
                title = Some(line.trim().to_owned());
            }
            outline.heading(sink, level, line.trim())?;
            i += 1;
            previous_blank = true;
            continue;
        }
        previous_blank = line.trim().is_empty();
        outline.paragraph(sink, line)?;
    }
    outline.finish(sink)?;
    Ok(title)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// ```` ``` ```` or `~~~` (3+), up to 3 spaces of indent; returns (char, length, info string).
fn fence_marker(line: &str) -> Option<(char, usize, &str)> {
    if indent(line) > 3 {
        return None;
    }
    let t = line.trim_start();
    let ch = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = t.len() - t.trim_start_matches(ch).len();
    (len >= 3).then(|| (ch, len, t[len..].trim()))
}

/// `#`..`######` followed by a space or end of line; an optional closing run of `#` is dropped.
fn atx_heading(line: &str) -> Option<(u8, &str)> {
    if indent(line) > 3 {
        return None;
    }
    let t = line.trim_start();
    let hashes = t.len() - t.trim_start_matches('#').len();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &t[hashes..];
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let mut text = rest.trim();
    let without_closing = text.trim_end_matches('#');
    if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        text = without_closing.trim_end();
    }
    u8::try_from(hashes).ok().map(|level| (level, text))
}

fn setext_level(line: &str) -> Option<u8> {
    if indent(line) > 3 {
        return None;
    }
    let t = line.trim();
    if !t.is_empty() && t.bytes().all(|b| b == b'=') {
        Some(1)
    } else if t.len() >= 2 && t.bytes().all(|b| b == b'-') {
        Some(2)
    } else {
        None
    }
}

/// YAML front matter (`---` … `---` at the top): not body text, but its `title:` is the document title.
fn front_matter(lines: &[&str]) -> (Option<String>, usize) {
    if lines.first().map(|l| l.trim_end()) != Some("---") {
        return (None, 0);
    }
    let Some(end) = lines.iter().take(200).skip(1).position(|l| matches!(l.trim_end(), "---" | "...")) else {
        return (None, 0);
    };
    let title = lines[1..=end].iter().find_map(|l| {
        let value = l.strip_prefix("title:")?.trim().trim_matches(['"', '\'']);
        (!value.is_empty()).then(|| value.to_owned())
    });
    (title, end + 2)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::{DocKind, Limits, extract};

    #[test]
    fn heading_trail_and_code_fences() {
        let md = "---\ntitle: \"Week 2\"\n---\nIntro line.\n\n# Chapter 2\n\nText A.\n\n## Loops ##\n\n\
                  ```python\n# not a heading\nfor i in range(3):\n    print(i)\n```\n\n### While\nw text\n\n\
                  ## Functions\nf text\n\nSetext Title\n============\nunder setext\n";
        let out = extract(DocKind::Markdown, md.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(out.title.as_deref(), Some("Week 2"));
        let paths: Vec<Vec<&str>> =
            out.sections.iter().map(|s| s.heading_path.iter().map(String::as_str).collect()).collect();
        assert_eq!(
            paths,
            vec![
                vec![],
                vec!["Chapter 2"],
                vec!["Chapter 2", "Loops"],
                vec!["Chapter 2", "Loops", "While"],
                vec!["Chapter 2", "Functions"],
                vec!["Setext Title"],
            ]
        );
        assert_eq!(out.sections[0].text, "Intro line.");
        let loops = &out.sections[2].text;
        assert!(loops.starts_with("Loops\n"), "{loops}");
        assert!(loops.contains("```python\n# not a heading\nfor i in range(3):\n    print(i)\n```"), "{loops}");
        assert!(out.sections[5].text.contains("under setext"));
    }

    #[test]
    fn first_h1_is_title_without_front_matter() {
        let out = extract(DocKind::Markdown, b"# Real Title\nbody\n# Second\nmore", &Limits::default()).unwrap();
        assert_eq!(out.title.as_deref(), Some("Real Title"));
        assert_eq!(out.sections.len(), 2);
    }
}
