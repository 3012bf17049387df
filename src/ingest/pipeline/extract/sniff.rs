//! What is this file, really? Bytes decide; the filename only breaks ties the bytes cannot (text vs Markdown,
//! a truncated ZIP prefix).

use std::io::Cursor;

use super::{DocKind, ExtractError, media, text};

/// Text checks look at this much; enough to see past a long header, cheap on a 100 MB upload.
pub const TEXT_SAMPLE: usize = 64 * 1024;
/// PDF readers accept junk before `%PDF-` within the first KiB (mail gateways prepend headers).
const PDF_HEADER_WINDOW: usize = 1024;

/// Extensions that promise a binary format. Text bytes under one of these names are a broken upload (often an
/// HTML error page saved by a failed download), not a document to index.
const BINARY_EXTENSIONS: &[&str] = &[
    "pdf", "docx", "pptx", "doc", "ppt", "xls", "xlsx", "odt", "odp", "mp3", "wav", "m4a", "ogg", "oga", "opus",
    "webm", "mp4", "m4v", "mov", "zip", "png", "jpg", "jpeg", "gif",
];
/// Extensions that promise text: binary bytes under these names are `NotText` rather than merely unsupported.
const TEXT_EXTENSIONS: &[&str] = &["txt", "text", "md", "markdown", "html", "htm", "xhtml", "srt", "vtt", "csv"];

/// Sniff from the first bytes (pass at least the first 8 KiB, better the whole file: DOCX vs PPTX is read from the
/// ZIP's central directory, which lives at the end) plus the filename as a tie-breaker.
pub fn sniff(bytes: &[u8], filename: Option<&str>) -> Result<DocKind, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::EmptyDocument);
    }
    let ext = filename.and_then(extension);
    let ext = ext.as_deref();
    if is_pdf(bytes, ext) {
        return Ok(DocKind::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return sniff_zip(bytes, ext);
    }
    let sample = &bytes[..bytes.len().min(TEXT_SAMPLE)];
    if let Some(sample_text) = text::decode_sample(sample, sample.len() < bytes.len()) {
        return classify_text(&sample_text, ext);
    }
    if let Some(kind) = media::sniff(bytes) {
        return Ok(kind);
    }
    if ext.is_some_and(|e| TEXT_EXTENSIONS.contains(&e)) {
        return Err(ExtractError::NotText);
    }
    Err(ExtractError::Unsupported(describe_binary(bytes)))
}

fn extension(filename: &str) -> Option<String> {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    let (stem, ext) = base.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

fn is_pdf(bytes: &[u8], ext: Option<&str>) -> bool {
    let lead = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    if bytes[lead..].starts_with(b"%PDF-") {
        return true;
    }
    // A text file that merely mentions "%PDF-" must not become a PDF, so junk before the header needs the name too.
    let window = &bytes[..bytes.len().min(PDF_HEADER_WINDOW)];
    ext == Some("pdf") && window.windows(5).any(|w| w == b"%PDF-")
}

fn sniff_zip(bytes: &[u8], ext: Option<&str>) -> Result<DocKind, ExtractError> {
    let names: Vec<String> = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(archive) => archive.file_names().filter_map(Result::ok).map(|n| n.into_owned()).collect(),
        // Only a prefix was passed, or the archive is damaged: read the local headers we do have.
        Err(_) => local_header_names(bytes),
    };
    let has = |prefix: &str| names.iter().any(|n| n.starts_with(prefix));
    if has("word/") {
        return Ok(DocKind::Docx);
    }
    if has("ppt/") {
        return Ok(DocKind::Pptx);
    }
    // A damaged package whose part names we could not read: trust the name, so extraction reports it as corrupt.
    let foreign = has("xl/") || names.iter().any(|n| n == "mimetype");
    match ext {
        Some("docx") if !foreign => return Ok(DocKind::Docx),
        Some("pptx") if !foreign => return Ok(DocKind::Pptx),
        _ => {}
    }
    let what = if has("xl/") {
        "Excel workbook"
    } else if names.iter().any(|n| n == "mimetype") {
        "OpenDocument file"
    } else {
        "ZIP archive"
    };
    Err(ExtractError::Unsupported(what.to_owned()))
}

/// Walks local file headers from the start of the archive (`PK\3\4`, sizes at 18, name length at 26).
fn local_header_names(bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut at = 0usize;
    while names.len() < 64 {
        let Some(header) = bytes.get(at..at + 30) else { break };
        if !header.starts_with(b"PK\x03\x04") {
            break;
        }
        let u16_at = |i: usize| usize::from(u16::from_le_bytes([header[i], header[i + 1]]));
        let compressed = u32::from_le_bytes([header[18], header[19], header[20], header[21]]) as usize;
        let (name_len, extra_len) = (u16_at(26), u16_at(28));
        let Some(name) = bytes.get(at + 30..at + 30 + name_len) else { break };
        names.push(String::from_utf8_lossy(name).into_owned());
        let data_start = at + 30 + name_len + extra_len;
        let uses_descriptor = header[6] & 0x08 != 0;
        at = if uses_descriptor && compressed == 0 {
            // Streamed entry (LibreOffice writes these): its size follows the data, so hunt for the next header.
            let Some(next) = bytes.get(data_start..).and_then(|rest| rest.windows(4).position(|w| w == b"PK\x03\x04"))
            else {
                break;
            };
            data_start + next
        } else {
            data_start + compressed
        };
    }
    names
}

fn classify_text(sample: &str, ext: Option<&str>) -> Result<DocKind, ExtractError> {
    let head = sample.trim_start_matches(['\u{feff}', ' ', '\t', '\n', '\r']);
    let lower: String = head.chars().take(512).collect::<String>().to_ascii_lowercase();
    if head.starts_with("WEBVTT") && head[6..].chars().next().is_none_or(char::is_whitespace) {
        return Ok(DocKind::Vtt);
    }
    if super::subtitles::looks_like_srt(head) {
        return Ok(DocKind::Srt);
    }
    let html = lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || (lower.starts_with("<?xml") && lower.contains("<html"));
    if let Some(claimed) = ext.filter(|e| BINARY_EXTENSIONS.contains(e)) {
        let detected = if html || lower.contains("<html") { "an HTML page" } else { "plain text" };
        return Err(ExtractError::TypeMismatch { claimed: claimed.to_owned(), detected: detected.to_owned() });
    }
    if html {
        return Ok(DocKind::Html);
    }
    if lower.starts_with("{\\rtf") {
        return Err(ExtractError::Unsupported("RTF document".to_owned()));
    }
    if lower.starts_with("<svg") || (lower.starts_with("<?xml") && lower.contains("<svg")) || ext == Some("svg") {
        return Err(ExtractError::Unsupported("SVG image".to_owned()));
    }
    Ok(match ext {
        Some("md" | "markdown" | "mdown" | "mkd" | "mkdn") => DocKind::Markdown,
        Some("html" | "htm" | "xhtml") => DocKind::Html,
        Some("srt") => DocKind::Srt,
        Some("vtt") => DocKind::Vtt,
        _ => DocKind::Text,
    })
}

fn describe_binary(bytes: &[u8]) -> String {
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        // OLE container: legacy .doc/.ppt/.xls, and also password-protected .docx/.pptx.
        return "legacy or password-protected Office file; save it as .docx/.pptx without a password".to_owned();
    }
    infer::get(bytes).map_or_else(|| "unrecognised binary data".to_owned(), |t| t.mime_type().to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn text_kinds_by_content_then_name() {
        assert_eq!(sniff(b"WEBVTT\n\n00:01.000 --> 00:02.000\nhi", None).unwrap(), DocKind::Vtt);
        assert_eq!(sniff(b"1\n00:00:01,000 --> 00:00:02,000\nhi\n", Some("a.txt")).unwrap(), DocKind::Srt);
        assert_eq!(sniff(b"<!DOCTYPE html><p>x</p>", Some("notes.txt")).unwrap(), DocKind::Html);
        assert_eq!(sniff(b"# Title\n\ntext", Some("Notes.MD")).unwrap(), DocKind::Markdown);
        assert_eq!(sniff(b"# Title\n\ntext", None).unwrap(), DocKind::Text);
        assert_eq!(sniff(b"<p>fragment</p>", Some("x.htm")).unwrap(), DocKind::Html);
        assert_eq!(sniff(b"plain words", Some("script.py")).unwrap(), DocKind::Text);
    }

    #[test]
    fn text_under_a_binary_name_is_a_mismatch() {
        let err = sniff(b"<html><body>403 Forbidden</body></html>", Some("lecture.pdf")).unwrap_err();
        assert_eq!(err.code(), "type_mismatch");
        assert!(err.message().contains("pdf"));
    }

    #[test]
    fn binary_junk() {
        let junk: Vec<u8> = (0..2048u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
        assert_eq!(sniff(&junk, Some("paper.pdf")).unwrap_err().code(), "unsupported_type");
        assert_eq!(sniff(&junk, Some("notes.txt")).unwrap_err().code(), "not_text");
        assert_eq!(sniff(&junk, None).unwrap_err().code(), "unsupported_type");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some("a.png")).unwrap_err().code(), "unsupported_type");
        assert_eq!(
            sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0", Some("setup.exe")).unwrap_err().code(),
            "unsupported_type"
        );
        assert_eq!(sniff(b"", Some("a.txt")).unwrap_err().code(), "empty_document");
    }

    #[test]
    fn pdf_header_rules() {
        assert_eq!(sniff(b"%PDF-1.7\n...", Some("x.docx")).unwrap(), DocKind::Pdf);
        assert_eq!(sniff(b"\xff\x00junk\x00%PDF-1.4\n", Some("x.pdf")).unwrap(), DocKind::Pdf);
        assert_eq!(sniff(b"The header is %PDF-1.7 in every file", Some("notes.md")).unwrap(), DocKind::Markdown);
    }
}
