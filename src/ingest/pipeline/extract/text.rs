//! Text decoding shared by every text-based format, and plain-text extraction.
//!
//! Accepts UTF-8 (BOM stripped), UTF-16 with a BOM, and — because schools still have old Windows-saved notes —
//! Windows-1252 when the bytes are not UTF-8 but look like prose. Anything else is binary junk: `NotText`.

use super::{ExtractError, SOFT_SECTION_BYTES, Section, Sink};

/// Share of control characters tolerated before bytes count as binary. Real text has essentially none besides
/// tab/newline/CR/form feed; a few stray ones survive copy-paste.
const MAX_CONTROL_RATIO: f64 = 0.01;

/// Decodes a whole file. Line endings are normalised to `\n` so every parser sees one convention.
pub(super) fn decode(bytes: &[u8]) -> Result<String, ExtractError> {
    let text = decode_sample(bytes, false).ok_or(ExtractError::NotText)?;
    Ok(if text.contains('\r') { text.replace("\r\n", "\n").replace('\r', "\n") } else { text })
}

/// Decodes `bytes` as text, or `None` for binary. With `truncated`, `bytes` is a prefix of the file (sniffing), so
/// a multi-byte sequence cut at the end is not held against it.
pub(super) fn decode_sample(bytes: &[u8], truncated: bool) -> Option<String> {
    let text = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        utf8(rest, truncated)?
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        utf16(rest, u16::from_le_bytes)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        utf16(rest, u16::from_be_bytes)
    } else if let Some(text) = utf8(bytes, truncated) {
        text
    } else {
        windows_1252(bytes)?
    };
    looks_like_text(&text).then_some(text)
}

fn utf8(bytes: &[u8], truncated: bool) -> Option<String> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Some(s.to_owned()),
        // `error_len() == None` means the input ended mid-character, which a prefix may do.
        Err(e) if truncated && e.error_len().is_none() => {
            Some(String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned())
        }
        Err(_) => None,
    }
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
}

/// Legacy 8-bit text. Random binary also "decodes" as Windows-1252, so demand what prose looks like: no NULs, and
/// mostly ASCII (accented letters are a minority even in French or German text).
fn windows_1252(bytes: &[u8]) -> Option<String> {
    if bytes.contains(&0) {
        return None;
    }
    let high = bytes.iter().filter(|b| **b >= 0x80).count();
    if high * 4 > bytes.len() {
        return None;
    }
    let (text, _, had_errors) = encoding_rs::WINDOWS_1252.decode(bytes);
    (!had_errors).then(|| text.into_owned())
}

fn looks_like_text(text: &str) -> bool {
    let mut total = 0usize;
    let mut control = 0usize;
    for c in text.chars() {
        total += 1;
        if c == '\0' {
            return false;
        }
        // U+FFFD counts too: a UTF-16 BOM followed by junk decodes to a stream of replacement characters.
        if (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0C')) || c == char::REPLACEMENT_CHARACTER {
            control += 1;
        }
    }
    (control as f64) <= (total as f64) * MAX_CONTROL_RATIO
}

/// Plain text: sections split only by size (chunking happens downstream), at blank lines.
pub(super) fn extract_plain(bytes: &[u8], sink: &mut Sink<'_>) -> Result<Option<String>, ExtractError> {
    // Decoding can only grow bytes by the Windows-1252 path; refusing early avoids building a huge string first.
    if bytes.len() > sink.remaining().saturating_mul(2) {
        return Err(sink.too_large());
    }
    let text = decode(bytes)?;
    let mut current = String::new();
    for paragraph in text.split("\n\n") {
        if !current.is_empty() {
            current.push_str("\n\n");
        }
        current.push_str(paragraph);
        if current.len() >= SOFT_SECTION_BYTES {
            sink.push(Section { text: std::mem::take(&mut current), ..Section::default() })?;
        }
    }
    sink.push(Section { text: current, ..Section::default() })?;
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_bom_and_utf16() {
        assert_eq!(decode(b"\xEF\xBB\xBFhello\r\nworld").unwrap(), "hello\nworld");
        let utf16le: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("héllo".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(decode(&utf16le).unwrap(), "héllo");
        let utf16be: Vec<u8> = [0xFE, 0xFF].into_iter().chain("ok".encode_utf16().flat_map(u16::to_be_bytes)).collect();
        assert_eq!(decode(&utf16be).unwrap(), "ok");
    }

    #[test]
    fn accepts_windows_1252_prose() {
        assert_eq!(decode(b"caf\xE9 cr\xE8me br\xFBl\xE9e").unwrap(), "café crème brûlée");
    }

    #[test]
    fn rejects_binary() {
        let junk: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert!(matches!(decode(&junk), Err(ExtractError::NotText)));
        assert!(matches!(decode(b"abc\0def"), Err(ExtractError::NotText)));
    }

    #[test]
    fn truncated_sample_may_end_mid_character() {
        let bytes = "naïve".as_bytes();
        assert_eq!(decode_sample(&bytes[..3], true).as_deref(), Some("na"));
    }
}
