//! PPTX: one section per slide (1-based, in presentation order) with its text and speaker notes.
//!
//! Slide order comes from `ppt/presentation.xml` (`p:sldIdLst`) because file names keep their creation number
//! when slides are reordered; "slide 3" in a citation must be the third slide the student sees. Without a usable
//! presentation part we fall back to `slideN.xml` in numeric order.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::ooxml::{self, Package, ZipProblem};
use super::{ExtractError, Limits, Section, Sink};

const SLIDE_REL: &str = "/slide";
const NOTES_REL: &str = "/notesSlide";

fn problem(p: ZipProblem) -> ExtractError {
    match p {
        ZipProblem::Corrupt(msg) => ExtractError::CorruptPptx(msg),
        ZipProblem::Bomb(msg) => ExtractError::ZipBomb(msg),
    }
}

pub(super) fn extract(bytes: &[u8], limits: &Limits, sink: &mut Sink<'_>) -> Result<Option<String>, ExtractError> {
    let mut package = Package::open(bytes, limits).map_err(problem)?;
    let names = package.names();
    let mut slides = presentation_order(&mut package)?;
    if slides.is_empty() {
        slides = numeric_order(&names);
    }
    if slides.is_empty() && !names.iter().any(|n| n == "ppt/presentation.xml") {
        return Err(ExtractError::CorruptPptx("no ppt/presentation.xml and no slides".to_owned()));
    }
    let mut first_slide_title = None;
    for (index, part) in slides.iter().enumerate() {
        sink.step(index, slides.len())?;
        let Some(xml) = package.read(part).map_err(problem)? else { continue };
        let slide = shape_text(&xml).map_err(|e| ExtractError::CorruptPptx(format!("{part}: {e}")))?;
        let notes = match notes_part(&mut package, part, &names)? {
            Some(notes_part) => match package.read(&notes_part).map_err(problem)? {
                Some(xml) => {
                    shape_text(&xml).map_err(|e| ExtractError::CorruptPptx(format!("{notes_part}: {e}")))?.body
                }
                None => String::new(),
            },
            None => String::new(),
        };
        let body = slide.body.trim();
        let mut text = match &slide.title {
            Some(title) => format!("{title}\n{body}"),
            None => body.to_owned(),
        };
        if !notes.trim().is_empty() {
            text.push_str("\n\nSpeaker notes:\n");
            text.push_str(notes.trim());
        }
        if first_slide_title.is_none() {
            first_slide_title.clone_from(&slide.title);
        }
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let heading_path = slide.title.into_iter().collect();
        sink.push(Section { text, slide: Some(number), heading_path, ..Section::default() })?;
    }
    Ok(ooxml::core_title(&mut package).or(first_slide_title))
}

/// Slide parts in show order, via `p:sldId r:id` → presentation relationships.
fn presentation_order(package: &mut Package<'_>) -> Result<Vec<String>, ExtractError> {
    let Some(xml) = package.read("ppt/presentation.xml").map_err(problem)? else { return Ok(Vec::new()) };
    let rels = ooxml::relationships(package, "ppt/presentation.xml").map_err(problem)?;
    let mut reader = Reader::from_reader(xml.as_slice());
    let mut buf = Vec::new();
    let mut order = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == b"sldId" => {
                let rid =
                    e.attributes().flatten().find(|a| a.key.local_name().as_ref() == b"id" && a.key.prefix().is_some());
                if let Some(rid) = rid.and_then(|a| {
                    a.decoded_and_normalized_value(quick_xml::XmlVersion::Implicit1_0, reader.decoder()).ok()
                }) {
                    let target = rels.iter().find(|(id, kind, _)| *id == *rid && kind.ends_with(SLIDE_REL));
                    order.extend(target.map(|(_, _, t)| t.clone()));
                }
            }
            Ok(Event::Eof) => break,
            // A broken presentation part is not fatal: the slides themselves may be fine.
            Err(_) => return Ok(Vec::new()),
            _ => {}
        }
        buf.clear();
    }
    Ok(order)
}

fn numeric_order(names: &[String]) -> Vec<String> {
    let mut slides: Vec<(u32, String)> = names
        .iter()
        .filter_map(|n| {
            let num = n.strip_prefix("ppt/slides/slide")?.strip_suffix(".xml")?.parse().ok()?;
            Some((num, n.clone()))
        })
        .collect();
    slides.sort();
    slides.into_iter().map(|(_, n)| n).collect()
}

/// The notes part linked from the slide's relationships, else `notesSlideN.xml` with the slide file's number.
fn notes_part(package: &mut Package<'_>, slide: &str, names: &[String]) -> Result<Option<String>, ExtractError> {
    let rels = ooxml::relationships(package, slide).map_err(problem)?;
    if let Some((_, _, target)) = rels.iter().find(|(_, kind, _)| kind.ends_with(NOTES_REL)) {
        return Ok(Some(target.clone()));
    }
    let (dir, file) = slide.rsplit_once('/').unwrap_or(("", slide));
    let has_rels_file = names.iter().any(|n| *n == format!("{dir}/_rels/{file}.rels"));
    let number = file.strip_prefix("slide").and_then(|f| f.strip_suffix(".xml"));
    let guess = number.map(|n| format!("ppt/notesSlides/notesSlide{n}.xml"));
    Ok(guess.filter(|g| !has_rels_file && names.contains(g)))
}

#[derive(Default)]
struct SlideText {
    title: Option<String>,
    body: String,
}

/// Placeholders whose text is boilerplate (slide number, date, footer) or a thumbnail of the slide in notes.
const SKIPPED_PLACEHOLDERS: &[&[u8]] = &[b"sldNum", b"dt", b"ftr", b"hdr", b"sldImg"];

/// Text of a slide or notes part. `a:t` runs are concatenated, `a:p` ends a line, `a:br` breaks one. Shapes,
/// groups and table cells are read in document order; `mc:Fallback` duplicates `mc:Choice` and is skipped.
fn shape_text(xml: &[u8]) -> Result<SlideText, quick_xml::Error> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut out = SlideText::default();
    // Text of the current top-level `p:sp` shape, and its placeholder type if any.
    let mut shape: Option<(String, Option<Vec<u8>>)> = None;
    let mut shape_depth = 0usize;
    let mut in_text = false;
    let mut fallback_depth = 0usize;
    loop {
        let event = reader.read_event_into(&mut buf)?;
        match &event {
            Event::Start(e) if fallback_depth > 0 => fallback_depth += usize::from(is(e, b"Fallback")),
            Event::End(e) if fallback_depth > 0 => {
                fallback_depth -= usize::from(e.local_name().as_ref() == b"Fallback")
            }
            _ if fallback_depth > 0 => {}
            Event::Start(e) if is(e, b"Fallback") => fallback_depth = 1,
            Event::Start(e) if is(e, b"sp") => {
                shape_depth += 1;
                if shape_depth == 1 {
                    shape = Some((String::new(), None));
                }
            }
            Event::Start(e) | Event::Empty(e) if is(e, b"ph") => {
                if let Some((_, kind)) = shape.as_mut() {
                    let ph = e.try_get_attribute("type").ok().flatten().map(|a| a.value.into_owned());
                    *kind = Some(ph.unwrap_or_else(|| b"body".to_vec()));
                }
            }
            Event::Start(e) if is(e, b"t") => in_text = true,
            Event::End(e) if e.local_name().as_ref() == b"t" => in_text = false,
            Event::Text(t) if in_text => target(&mut shape, &mut out).push_str(&t.xml10_content().unwrap_or_default()),
            Event::GeneralRef(r) if in_text => {
                target(&mut shape, &mut out).push_str(&ooxml::resolve_ref(r).unwrap_or_default());
            }
            Event::Start(e) | Event::Empty(e) if is(e, b"br") => target(&mut shape, &mut out).push('\n'),
            Event::End(e) if e.local_name().as_ref() == b"p" => target(&mut shape, &mut out).push('\n'),
            Event::End(e) if e.local_name().as_ref() == b"sp" => {
                shape_depth = shape_depth.saturating_sub(1);
                if shape_depth == 0
                    && let Some((text, kind)) = shape.take()
                {
                    finish_shape(&mut out, text, kind);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

fn is(e: &BytesStart<'_>, local: &[u8]) -> bool {
    e.local_name().as_ref() == local
}

fn target<'a>(shape: &'a mut Option<(String, Option<Vec<u8>>)>, out: &'a mut SlideText) -> &'a mut String {
    match shape {
        Some((text, _)) => text,
        None => &mut out.body,
    }
}

fn finish_shape(out: &mut SlideText, text: String, kind: Option<Vec<u8>>) {
    let text = text.trim();
    match kind.as_deref() {
        Some(k) if SKIPPED_PLACEHOLDERS.contains(&k) => {}
        Some(b"title" | b"ctrTitle") if out.title.is_none() && !text.is_empty() => {
            out.title = Some(text.split_whitespace().collect::<Vec<_>>().join(" "));
        }
        _ if !text.is_empty() => {
            if !out.body.is_empty() && !out.body.ends_with('\n') {
                out.body.push('\n');
            }
            out.body.push_str(text);
            out.body.push('\n');
        }
        _ => {}
    }
}
