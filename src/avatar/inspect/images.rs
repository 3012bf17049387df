//! Textures are sized from their PNG or JPEG headers (never decoded): a browser would otherwise be asked to
//! allocate whatever a hostile file claims.

use std::borrow::Cow;

use super::{Limits, Rejection, data_uri, invalid};

pub(super) fn check(gltf: &gltf::Gltf, buffers: &[Cow<[u8]>], limits: &Limits) -> Result<(), Rejection> {
    for image in gltf.images() {
        let what = format!("image {}", image.index());
        let bytes: Cow<[u8]> = match image.source() {
            gltf::image::Source::View { view, .. } => {
                let data =
                    buffers.get(view.buffer().index()).ok_or_else(|| invalid(format!("{what} has no buffer")))?;
                Cow::Borrowed(&data[view.offset()..view.offset() + view.length()])
            }
            gltf::image::Source::Uri { uri, .. } => Cow::Owned(data_uri(uri, &what)?),
        };
        let (width, height) =
            size(&bytes).ok_or_else(|| invalid(format!("{what} is neither a PNG nor a JPEG image")))?;
        if width.max(height) > limits.max_texture_px {
            return Err(Rejection::TooLarge(format!(
                "{what} is {width}x{height} pixels; at most {max} wide and tall is accepted",
                max = limits.max_texture_px
            )));
        }
    }
    Ok(())
}

/// Width and height from a PNG's IHDR or a JPEG's first start-of-frame marker.
pub(super) fn size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.get(12..16) == Some(b"IHDR") {
        let be = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        return Some((be(16)?, be(20)?));
    }
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return None;
        }
        let marker = bytes[at + 1];
        let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC), carry the frame size.
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let frame = bytes.get(at + 5..at + 9)?;
            let height = u32::from(u16::from_be_bytes([frame[0], frame[1]]));
            let width = u32::from(u16::from_be_bytes([frame[2], frame[3]]));
            return Some((width, height));
        }
        at += 2 + length;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_come_from_png_and_jpeg_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&8192u32.to_be_bytes());
        png.extend_from_slice(&16u32.to_be_bytes());
        assert_eq!(size(&png), Some((8192, 16)));
        // SOI, an APP0 segment of 16 bytes, then SOF0 with height 480 and width 640.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        jpeg.extend_from_slice(&[0; 14]);
        jpeg.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x03]);
        assert_eq!(size(&jpeg), Some((640, 480)));
        assert_eq!(size(b"GIF89a...."), None);
        assert_eq!(size(&[0xFF, 0xD8, 0x00]), None);
    }
}
