//! HTML via html5ever (through `scraper`): a real parser, so broken markup, entities and `<script>` contents are
//! handled the way browsers do. Headings build the trail; block elements become paragraphs; inline whitespace is
//! collapsed except inside `<pre>`.

use ego_tree::iter::Edge;
use scraper::{Html, Node};

use super::{ExtractError, Outline, Sink};

/// Subtrees whose text is never content a student reads.
const SKIPPED: &[&str] = &["script", "style", "noscript", "template", "head", "svg", "math", "iframe", "object"];
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
];

/// html5ever's tree builder walks the stack of open elements for many start tags, so parse time grows with the
/// square of nesting depth (100k nested `<div>`s, a 1 MB file, take ~20 s and cannot be interrupted). Real pages
/// nest a few dozen levels; browsers themselves cap the DOM depth at 512.
const MAX_ESTIMATED_DEPTH: usize = 2048;

pub(super) fn extract(source: &str, sink: &mut Sink<'_>) -> Result<Option<String>, ExtractError> {
    let depth = estimated_depth(source);
    if depth > MAX_ESTIMATED_DEPTH {
        return Err(ExtractError::Unsupported(format!("HTML nested about {depth} elements deep")));
    }
    let document = Html::parse_document(source);
    let mut title: Option<String> = None;
    let mut first_h1: Option<String> = None;
    let mut outline = Outline::new();
    let mut block = String::new();
    let mut heading: Option<(u8, String)> = None;
    let mut skip_depth = 0usize;
    let mut pre_depth = 0usize;
    let mut in_title = false;

    // `traverse` is iterative, so hostile nesting depth cannot overflow the stack.
    for edge in document.tree.root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(el) => {
                    let name = el.name();
                    if name == "title" && title.is_none() {
                        in_title = true;
                        title = Some(String::new());
                    }
                    if skip_depth > 0 || SKIPPED.contains(&name) || el.attr("hidden").is_some() {
                        skip_depth += 1;
                        continue;
                    }
                    if let Some(level) = heading_level(name) {
                        flush_block(&mut outline, sink, &mut block)?;
                        heading.get_or_insert((level, String::new()));
                    } else if name == "br" {
                        block.push('\n');
                    } else if name == "pre" {
                        flush_block(&mut outline, sink, &mut block)?;
                        pre_depth += 1;
                    } else if name == "td" || name == "th" {
                        if !block.trim().is_empty() {
                            block.push_str(" | ");
                        }
                    } else if BLOCKS.contains(&name) {
                        flush_block(&mut outline, sink, &mut block)?;
                        if name == "li" {
                            block.push_str("- ");
                        }
                    }
                }
                Node::Text(text) => {
                    if in_title {
                        if let Some(t) = title.as_mut() {
                            t.push_str(text);
                        }
                    } else if skip_depth > 0 {
                    } else if let Some((_, h)) = heading.as_mut() {
                        push_collapsed(h, text);
                    } else if pre_depth > 0 {
                        block.push_str(text);
                    } else {
                        push_collapsed(&mut block, text);
                    }
                }
                _ => {}
            },
            Edge::Close(node) => {
                let Node::Element(el) = node.value() else { continue };
                let name = el.name();
                if name == "title" {
                    in_title = false;
                }
                if skip_depth > 0 {
                    skip_depth -= 1;
                    continue;
                }
                if heading_level(name).is_some_and(|l| heading.as_ref().is_some_and(|(open, _)| *open == l)) {
                    if let Some((level, text)) = heading.take() {
                        if level == 1 && first_h1.is_none() {
                            first_h1 = Some(text.trim().to_owned());
                        }
                        outline.heading(sink, level, &text)?;
                    }
                } else if name == "pre" {
                    pre_depth = pre_depth.saturating_sub(1);
                    flush_block(&mut outline, sink, &mut block)?;
                } else if BLOCKS.contains(&name) {
                    flush_block(&mut outline, sink, &mut block)?;
                }
            }
        }
    }
    flush_block(&mut outline, sink, &mut block)?;
    outline.finish(sink)?;
    Ok(title.filter(|t| !t.trim().is_empty()).or(first_h1))
}

/// Elements that never hold children, or whose end tag is implied by the next sibling: not counted as nesting.
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
    "keygen", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "colgroup",
    "caption", "rb", "rt", "rp", "rtc", "html", "head", "body",
];
/// Raw-text elements: their content is not markup and is skipped up to the matching end tag.
const RAW_TEXT: &[&str] = &["script", "style", "textarea", "title", "xmp", "noembed", "noframes", "plaintext"];

/// A linear pre-scan: open tags minus close tags, ignoring void and optional-end elements. It can only
/// overestimate depth for sloppy markup with many unclosed tags, never underestimate it.
fn estimated_depth(source: &str) -> usize {
    let bytes = source.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while let Some(offset) = bytes[i..].iter().position(|b| *b == b'<') {
        i += offset + 1;
        let rest = &bytes[i..];
        if rest.starts_with(b"!--") {
            i += find(rest, b"-->").map_or(rest.len(), |p| p + 3);
            continue;
        }
        let closing = rest.first() == Some(&b'/');
        let name_start = usize::from(closing);
        let name_len = rest[name_start..].iter().take_while(|b| b.is_ascii_alphanumeric()).count();
        if name_len == 0 {
            continue;
        }
        let name = String::from_utf8_lossy(&rest[name_start..name_start + name_len]).to_ascii_lowercase();
        let Some(end) = rest.iter().position(|b| *b == b'>') else { break };
        i += end + 1;
        if NOT_NESTING.contains(&name.as_str()) {
            continue;
        }
        if closing {
            if !RAW_TEXT.contains(&name.as_str()) {
                depth = depth.saturating_sub(1);
            }
        } else if RAW_TEXT.contains(&name.as_str()) {
            let close = format!("</{name}");
            i += find_ignore_case(&bytes[i..], close.as_bytes()).unwrap_or(bytes.len() - i);
        } else if rest[end.saturating_sub(1)] != b'/' {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

fn flush_block(outline: &mut Outline, sink: &mut Sink<'_>, block: &mut String) -> Result<(), ExtractError> {
    let text = block.trim_matches(|c: char| c == ' ' || c == '\n');
    if !text.is_empty() {
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        outline.paragraph(sink, &lines.join("\n"))?;
    }
    block.clear();
    Ok(())
}

/// Appends `text` with runs of whitespace collapsed to one space, as a browser renders it.
fn push_collapsed(out: &mut String, text: &str) {
    let mut pending_space = text.starts_with(char::is_whitespace);
    for word in text.split_whitespace() {
        if pending_space && !out.is_empty() && !out.ends_with([' ', '\n']) {
            out.push(' ');
        }
        out.push_str(word);
        pending_space = true;
    }
    if text.ends_with(char::is_whitespace) && !out.is_empty() && !out.ends_with([' ', '\n']) {
        out.push(' ');
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::{DocKind, Limits, extract};

    #[test]
    fn headings_blocks_and_dropped_elements() {
        let html = r#"<!DOCTYPE html><html><head><title>Week 2 &amp; Loops</title><style>p{color:red}</style>
            <script>var secret = "x";</script></head><body>
            <nav>Home</nav><h1>Chapter <em>2</em></h1><p>Intro   text
            spanning lines.</p><noscript>enable js</noscript><template><p>tpl</p></template>
            <h2>Loops</h2><ul><li>for</li><li>while</li></ul>
            <pre>for i in x:
    print(i)</pre>
            <table><tr><th>Op</th><th>Meaning</th></tr><tr><td>+</td><td>add</td></tr></table>
            <h3>Nested</h3><div>deep<br>er</div><h2>Functions</h2><p hidden>invisible</p><p>def f</p>
            </body></html>"#;
        let out = extract(DocKind::Html, html.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(out.title.as_deref(), Some("Week 2 & Loops"));
        let all: String = out.sections.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join("\n");
        for banned in ["secret", "color:red", "enable js", "tpl", "invisible"] {
            assert!(!all.contains(banned), "{banned} leaked: {all}");
        }
        let loops = out.sections.iter().find(|s| s.heading_path == ["Chapter 2", "Loops"]).unwrap();
        assert!(loops.text.contains("- for\n- while"), "{}", loops.text);
        assert!(loops.text.contains("for i in x:\n    print(i)"), "{}", loops.text);
        assert!(loops.text.contains("Op | Meaning\n+ | add"), "{}", loops.text);
        let intro = out.sections.iter().find(|s| s.heading_path == ["Chapter 2"]).unwrap();
        assert!(intro.text.contains("Intro text spanning lines."), "{}", intro.text);
        let nested = out.sections.iter().find(|s| s.heading_path == ["Chapter 2", "Loops", "Nested"]).unwrap();
        assert!(nested.text.contains("deep\ner"), "{}", nested.text);
        assert!(out.sections.iter().any(|s| s.heading_path == ["Chapter 2", "Functions"] && s.text.contains("def f")));
    }

    #[test]
    fn depth_estimate() {
        use super::estimated_depth;
        assert_eq!(estimated_depth("<div><p>a<p>b<br><img src=x><span>c</span></div>"), 2);
        assert_eq!(estimated_depth("<div><script>if (a<b) { x = '<div>' }</script><div/><b>x</b></div>"), 2);
        assert_eq!(estimated_depth("<!-- <div><div> --><DIV><Div></div></DIV>"), 2);
        assert_eq!(estimated_depth(&"<ul><li>".repeat(10)), 10);
    }
}
