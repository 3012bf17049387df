//! SRT and WebVTT cues → one section per cue with start/end times (the chunker merges neighbours).
//!
//! One lenient line-based parser serves both: real-world files mix `,` and `.` in timestamps, drop the blank line
//! between cues, or forget the VTT header. Cue settings, styling tags and VTT metadata blocks are removed.

use super::{ExtractError, Section, Sink};

/// Heuristic for content sniffing: an optional cue number, then a timing line.
pub(super) fn looks_like_srt(head: &str) -> bool {
    let mut lines = head.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines.next() {
        Some(first) if first.bytes().all(|b| b.is_ascii_digit()) => lines.next().is_some_and(|l| timing(l).is_some()),
        Some(first) => timing(first).is_some(),
        None => false,
    }
}

struct Cue<'a> {
    start_ms: u64,
    end_ms: u64,
    lines: Vec<&'a str>,
}

pub(super) fn extract(text: &str, sink: &mut Sink<'_>) -> Result<Option<String>, ExtractError> {
    let mut current: Option<Cue<'_>> = None;
    let mut skipping_block = false;
    let mut block_start = true;
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if let Some(cue) = current.take() {
                emit(sink, cue)?;
            }
            skipping_block = false;
            block_start = true;
            continue;
        }
        let at_block_start = std::mem::replace(&mut block_start, false);
        if skipping_block {
            continue;
        }
        if at_block_start && current.is_none() && is_metadata_block(line) {
            skipping_block = true;
            continue;
        }
        if let Some((start_ms, end_ms)) = timing(line) {
            if let Some(mut previous) = current.take() {
                // No blank line before this cue: the previous cue's last line was really this cue's number.
                if previous.lines.last().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit())) {
                    previous.lines.pop();
                }
                emit(sink, previous)?;
            }
            current = Some(Cue { start_ms, end_ms: end_ms.max(start_ms), lines: Vec::new() });
        } else if let Some(cue) = current.as_mut() {
            cue.lines.push(line);
        }
        // Otherwise: a cue number or VTT cue identifier before its timing line.
    }
    if let Some(cue) = current {
        emit(sink, cue)?;
    }
    Ok(None)
}

fn is_metadata_block(line: &str) -> bool {
    ["WEBVTT", "NOTE", "STYLE", "REGION"]
        .iter()
        .any(|kw| line.strip_prefix(kw).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t'])))
}

fn emit(sink: &mut Sink<'_>, cue: Cue<'_>) -> Result<(), ExtractError> {
    let text = cue.lines.iter().map(|l| clean(l)).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    sink.push(Section { text, start_ms: Some(cue.start_ms), end_ms: Some(cue.end_ms), ..Section::default() })
}

/// `start --> end [cue settings]`.
fn timing(line: &str) -> Option<(u64, u64)> {
    let (left, right) = line.split_once("-->")?;
    let start = timestamp(left.trim())?;
    let end = timestamp(right.split_whitespace().next()?)?;
    Some((start, end))
}

/// `HH:MM:SS,mmm`, `HH:MM:SS.mmm` or `MM:SS.mmm` → milliseconds.
fn timestamp(s: &str) -> Option<u64> {
    let (clock, fraction) = s.split_once([',', '.'])?;
    if fraction.is_empty() || fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: u64 = format!("{fraction:0<3}").parse().ok()?;
    let parts: Vec<u64> = clock.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let seconds = match parts[..] {
        [h, m, s] => h.checked_mul(3600)?.checked_add(m * 60 + s)?,
        [m, s] => m * 60 + s,
        _ => return None,
    };
    seconds.checked_mul(1000)?.checked_add(millis)
}

/// Strips `<i>`, `<c.x>`, `<00:01.000>`, `{\an8}`-style tags and decodes the entities VTT allows. A voice tag
/// `<v Ana>` becomes `Ana: ` so who said what survives.
fn clean(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(['<', '{']) {
        out.push_str(&rest[..i]);
        let close = if rest[i..].starts_with('<') { '>' } else { '}' };
        let Some(len) = rest[i..].find(close) else {
            rest = &rest[i..];
            break;
        };
        let tag = &rest[i + 1..i + len];
        if close == '>'
            && let Some(voice) = tag.strip_prefix('v').filter(|t| t.starts_with([' ', '.']))
        {
            let name = voice.split_once(' ').map_or("", |(_, n)| n.trim());
            if !name.is_empty() {
                out.push_str(name);
                out.push_str(": ");
            }
        } else if close == '}' && !tag.starts_with('\\') {
            out.push_str(&rest[i..=i + len]); // literal braces, not an override tag
        }
        rest = &rest[i + len + 1..];
    }
    out.push_str(rest);
    decode_entities(&out).trim().to_owned()
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let entity = rest[i + 1..].find(';').filter(|&n| n <= 10).map(|n| &rest[i + 1..i + 1 + n]);
        let decoded = entity.and_then(|e| match e {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            "lrm" => Some('\u{200E}'),
            "rlm" => Some('\u{200F}'),
            _ => e
                .strip_prefix("#x")
                .map_or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()), |h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32),
        });
        match (entity, decoded) {
            (Some(e), Some(c)) => {
                out.push(c);
                rest = &rest[i + e.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::{DocKind, Limits, extract};

    #[test]
    fn srt_cues_with_times_and_tags() {
        let srt = "1\r\n00:00:01,500 --> 00:00:04,000\r\n<i>Hello</i> class,\r\n{\\an8}welcome &amp; sit\r\n\r\n\
                   2\r\n00:00:05,000 --> 00:00:07,250 X1:40\r\n<font color=\"red\">Loops</font> today\r\n3\r\n\
                   00:01:02.5 --> 00:01:03.000\r\nNo blank line before me\r\n";
        let out = extract(DocKind::Srt, srt.as_bytes(), &Limits::default()).unwrap();
        let got: Vec<_> = out.sections.iter().map(|s| (s.text.as_str(), s.start_ms, s.end_ms)).collect();
        assert_eq!(
            got,
            vec![
                ("Hello class, welcome & sit", Some(1500), Some(4000)),
                ("Loops today", Some(5000), Some(7250)),
                ("No blank line before me", Some(62_500), Some(63_000)),
            ]
        );
    }

    #[test]
    fn vtt_skips_metadata_and_settings() {
        let vtt = "WEBVTT - Lecture 3\nKind: captions\n\nNOTE this is\na comment\n\nSTYLE\n::cue { color: red }\n\n\
                   intro\n00:01.000 --> 00:03.000 align:start position:10%\n<v Ana>Welcome</v> to <c.big>week</c> \
                   <00:02.000>three\n\n01:00:00.000 --> 01:00:01.000\nbye &lt;3\n";
        let out = extract(DocKind::Vtt, vtt.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(out.sections.len(), 2);
        assert_eq!(out.sections[0].text, "Ana: Welcome to week three");
        assert_eq!((out.sections[0].start_ms, out.sections[0].end_ms), (Some(1000), Some(3000)));
        assert_eq!(out.sections[1].text, "bye <3");
        assert_eq!(out.sections[1].start_ms, Some(3_600_000));
    }

    #[test]
    fn no_cues_is_empty() {
        let err = extract(DocKind::Srt, b"just some words\n", &Limits::default()).unwrap_err();
        assert_eq!(err.code(), "empty_document");
    }
}
