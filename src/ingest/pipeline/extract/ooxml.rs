//! The ZIP layer shared by DOCX and PPTX, with the zip-bomb defences.
//!
//! Declared sizes in a ZIP are attacker-controlled, so they are only a first filter: every read is capped by the
//! remaining budget of actually decompressed bytes, and an entry that inflates past its declared size is refused.

use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::Event;

use super::Limits;

/// Deflate cannot exceed ~1032:1. Legitimate OOXML parts reach maybe 100:1; anything near the format maximum on a
/// big entry is a crafted bomb even if it fits the total budget.
const MAX_RATIO: u64 = 1000;
const RATIO_CHECK_MIN_BYTES: u64 = 10 * 1024 * 1024;
/// Deeper XML than this is not something Word or PowerPoint writes, and docx-rs parses recursively: unbounded
/// nesting would overflow the thread's stack, which aborts the whole process (not catchable like a panic).
pub(super) const MAX_XML_DEPTH: usize = 256;

/// Why a package was refused; each format maps `Corrupt` to its own error code.
#[derive(Debug)]
pub(super) enum ZipProblem {
    Corrupt(String),
    Bomb(String),
}

pub(super) struct Package<'a> {
    archive: zip::ZipArchive<Cursor<&'a [u8]>>,
    /// Decompressed bytes we may still produce, across all reads.
    budget: u64,
}

impl<'a> Package<'a> {
    /// Opens the archive and applies the cheap central-directory checks before anything is decompressed.
    pub(super) fn open(bytes: &'a [u8], limits: &Limits) -> Result<Self, ZipProblem> {
        let mut archive =
            zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ZipProblem::Corrupt(format!("not a ZIP: {e}")))?;
        if archive.len() > limits.max_zip_entries {
            return Err(ZipProblem::Bomb(format!("{} entries, limit {}", archive.len(), limits.max_zip_entries)));
        }
        let mut declared = 0u64;
        for i in 0..archive.len() {
            let entry = archive.by_index_raw(i).map_err(|e| ZipProblem::Corrupt(e.to_string()))?;
            let (size, packed) = (entry.size(), entry.compressed_size());
            declared = declared.saturating_add(size);
            if size >= RATIO_CHECK_MIN_BYTES && size / packed.max(1) > MAX_RATIO {
                return Err(ZipProblem::Bomb(format!("entry compressed {}:1", size / packed.max(1))));
            }
        }
        if declared > limits.max_uncompressed_bytes {
            return Err(ZipProblem::Bomb(format!(
                "declares {declared} uncompressed bytes, limit {}",
                limits.max_uncompressed_bytes
            )));
        }
        Ok(Self { archive, budget: limits.max_uncompressed_bytes })
    }

    pub(super) fn names(&self) -> Vec<String> {
        self.archive.file_names().filter_map(Result::ok).map(|n| n.into_owned()).collect()
    }

    /// Reads one entry (`None` if absent), never producing more than the budget or the entry's declared size.
    pub(super) fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, ZipProblem> {
        let Some(index) = self.archive.index_for_name(name) else { return Ok(None) };
        self.read_index(index).map(Some)
    }

    fn read_index(&mut self, index: usize) -> Result<Vec<u8>, ZipProblem> {
        let entry = self.archive.by_index(index).map_err(|e| ZipProblem::Corrupt(e.to_string()))?;
        let declared = entry.size();
        let cap = declared.min(self.budget);
        let mut data = Vec::with_capacity(usize::try_from(cap.min(1 << 20)).unwrap_or(0));
        // One byte past the cap tells "exactly at the limit" apart from "kept going".
        let read = entry.take(cap.saturating_add(1)).read_to_end(&mut data);
        let got = data.len() as u64;
        if let Err(e) = read {
            // The zip crate itself refuses to inflate past the declared size; that failure arrives right after the
            // declared number of bytes. Anything earlier is damaged data (bad deflate stream, CRC mismatch).
            return Err(if got >= declared {
                ZipProblem::Bomb(format!("entry inflates past its declared size of {declared} bytes"))
            } else {
                ZipProblem::Corrupt(e.to_string())
            });
        }
        if got > cap {
            return Err(if got > self.budget {
                ZipProblem::Bomb(format!("decompresses past the {} byte budget", self.budget))
            } else {
                ZipProblem::Bomb(format!("entry inflates past its declared size of {declared} bytes"))
            });
        }
        self.budget -= got;
        Ok(data)
    }

    /// Decompresses every entry once, under the budget, and checks XML nesting. Used before handing the bytes to
    /// a third-party parser (docx-rs) that trusts declared sizes and recurses on nesting; it also turns corrupt
    /// deflate data into an error here instead of a panic in there.
    pub(super) fn verify_all(&mut self) -> Result<(), ZipProblem> {
        for index in 0..self.archive.len() {
            let name = self.archive.name_for_index(index).and_then(Result::ok).map(|n| n.into_owned());
            let data = self.read_index(index)?;
            if name.is_some_and(|n| n.ends_with(".xml") || n.ends_with(".rels")) && xml_depth(&data) > MAX_XML_DEPTH {
                return Err(ZipProblem::Corrupt(format!("XML nested deeper than {MAX_XML_DEPTH} levels")));
            }
        }
        Ok(())
    }
}

/// Maximum element nesting; stops counting at the first syntax error (the real parser will report it).
pub(super) fn xml_depth(xml: &[u8]) -> usize {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().check_end_names = false;
    let mut buf = Vec::new();
    let (mut depth, mut max) = (0usize, 0usize);
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(_)) => {
                depth += 1;
                max = max.max(depth);
                if max > MAX_XML_DEPTH {
                    return max;
                }
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Eof) | Err(_) => return max,
            Ok(_) => {}
        }
        buf.clear();
    }
}

/// `dc:title` from `docProps/core.xml`, the title the author set in Word/PowerPoint.
pub(super) fn core_title(package: &mut Package<'_>) -> Option<String> {
    let xml = package.read("docProps/core.xml").ok()??;
    let mut reader = Reader::from_reader(xml.as_slice());
    let mut buf = Vec::new();
    let mut inside = false;
    let mut title = String::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) if e.local_name().as_ref() == b"title" => inside = true,
            Ok(Event::End(e)) if e.local_name().as_ref() == b"title" => break,
            Ok(Event::Text(t)) if inside => title.push_str(&t.xml10_content().ok()?),
            Ok(Event::GeneralRef(r)) if inside => title.push_str(&resolve_ref(&r)?),
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    let title = title.trim();
    (!title.is_empty()).then(|| title.to_owned())
}

/// Resolves `&amp;`-style and `&#...;` references that quick-xml reports as separate events.
pub(super) fn resolve_ref(r: &quick_xml::events::BytesRef<'_>) -> Option<String> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Some(c.to_string());
    }
    let name = r.decode().ok()?;
    quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned)
}

/// Resolves a relationship target against the part that declares it (`ppt/slides/slide1.xml` +
/// `../notesSlides/notesSlide1.xml` → `ppt/notesSlides/notesSlide1.xml`); absolute targets start at the root.
pub(super) fn resolve_target(source_part: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let dir = source_part.rsplit_once('/').map_or("", |(d, _)| d);
        dir.split('/').filter(|s| !s.is_empty()).collect()
    };
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// Relationships of a part: (Id, Type, resolved target). External targets (hyperlinks) are skipped.
pub(super) fn relationships(
    package: &mut Package<'_>,
    part: &str,
) -> Result<Vec<(String, String, String)>, ZipProblem> {
    let (dir, file) = part.rsplit_once('/').unwrap_or(("", part));
    let rels_name = if dir.is_empty() { format!("_rels/{file}.rels") } else { format!("{dir}/_rels/{file}.rels") };
    let Some(xml) = package.read(&rels_name)? else { return Ok(Vec::new()) };
    let mut reader = Reader::from_reader(xml.as_slice());
    let mut buf = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == b"Relationship" => {
                let decoder = reader.decoder();
                let attr = |key: &str| -> Option<String> {
                    let a = e.try_get_attribute(key).ok()??;
                    a.decoded_and_normalized_value(quick_xml::XmlVersion::Implicit1_0, decoder)
                        .ok()
                        .map(|v| v.into_owned())
                };
                if attr("TargetMode").as_deref() == Some("External") {
                    continue;
                }
                if let (Some(id), Some(kind), Some(target)) = (attr("Id"), attr("Type"), attr("Target")) {
                    out.push((id, kind, resolve_target(part, &target)));
                }
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(ZipProblem::Corrupt(format!("{rels_name}: {e}"))),
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relationship_targets() {
        assert_eq!(resolve_target("ppt/slides/slide1.xml", "../notesSlides/n1.xml"), "ppt/notesSlides/n1.xml");
        assert_eq!(resolve_target("ppt/presentation.xml", "slides/slide2.xml"), "ppt/slides/slide2.xml");
        assert_eq!(resolve_target("ppt/presentation.xml", "/ppt/slides/slide3.xml"), "ppt/slides/slide3.xml");
    }

    #[test]
    fn measures_depth() {
        assert_eq!(xml_depth(b"<a><b><c/></b><b></b></a>"), 2);
        let deep = "<a>".repeat(MAX_XML_DEPTH + 5);
        assert!(xml_depth(deep.as_bytes()) > MAX_XML_DEPTH);
    }
}
