//! Audio/video recognition by magic bytes. This module never decodes media: `extract` answers
//! `NeedsTranscription` and the caller transcribes.

use super::DocKind;

/// Recognises the container formats we accept for transcription: mp3, wav, m4a, ogg/opus, webm (audio);
/// mp4, mov, webm (video).
pub(super) fn sniff(bytes: &[u8]) -> Option<DocKind> {
    if let Some(kind) = infer::get(bytes) {
        match kind.mime_type() {
            "audio/mpeg" | "audio/x-wav" | "audio/m4a" | "audio/ogg" | "audio/opus" => return Some(DocKind::Audio),
            "video/mp4" | "video/x-m4v" | "video/quicktime" => return Some(DocKind::Video),
            // Browser voice recordings (MediaRecorder) are audio-only WebM; routing them as video would make the
            // caller look for frames. Reading the track list is cheap, so tell them apart.
            "video/webm" => return Some(if webm_is_audio_only(bytes) { DocKind::Audio } else { DocKind::Video }),
            _ => {}
        }
    }
    is_bare_mp3_frame(bytes).then_some(DocKind::Audio)
}

/// The ffmpeg demuxer for what [`sniff`] recognises, so ffmpeg is told the format instead of guessing it from the
/// bytes (a guess can pick a playlist demuxer that opens other files or URLs).
pub(super) fn demuxer(bytes: &[u8]) -> Option<&'static str> {
    if let Some(kind) = infer::get(bytes) {
        match kind.mime_type() {
            "audio/mpeg" => return Some("mp3"),
            "audio/x-wav" => return Some("wav"),
            "audio/m4a" | "video/mp4" | "video/x-m4v" | "video/quicktime" => return Some("mov"),
            "audio/ogg" | "audio/opus" => return Some("ogg"),
            "video/webm" => return Some("matroska"),
            _ => {}
        }
    }
    is_bare_mp3_frame(bytes).then_some("mp3")
}

/// MP3 without an ID3 tag starts with a frame header. `infer` only knows three of the sync patterns; accept any
/// MPEG-1/2/2.5 Layer III header with a valid bitrate and sample-rate index.
fn is_bare_mp3_frame(bytes: &[u8]) -> bool {
    let [a, b, c, ..] = bytes else { return false };
    let sync = *a == 0xFF && b & 0xE0 == 0xE0;
    let version_ok = (b >> 3) & 0b11 != 0b01;
    let layer_iii = (b >> 1) & 0b11 == 0b01;
    let bitrate_ok = !matches!(c >> 4, 0b0000 | 0b1111);
    let rate_ok = (c >> 2) & 0b11 != 0b11;
    sync && version_ok && layer_iii && bitrate_ok && rate_ok
}

const EBML_TRACKS: u32 = 0x1654_AE6B;
const EBML_TRACK_ENTRY: u32 = 0xAE;
const EBML_TRACK_TYPE: u32 = 0x83;
const TRACK_TYPE_VIDEO: u64 = 1;
const TRACK_TYPE_AUDIO: u64 = 2;

/// The SeekHead that muxers (ffmpeg, browsers) write first names the Tracks ID as a 4-byte `SeekID` payload.
const EBML_SEEK_ID_HEADER: [u8; 3] = [0x53, 0xAB, 0x84];

/// True when the WebM track list (which precedes the media clusters) has audio tracks and no video track.
/// Anything we cannot read answers false, i.e. "video" — the looser, safe default.
fn webm_is_audio_only(bytes: &[u8]) -> bool {
    let id = EBML_TRACKS.to_be_bytes();
    let mut candidates = bytes.windows(4).enumerate().filter(|(_, w)| *w == id).map(|(at, _)| at);
    // The first match is usually the SeekHead's pointer to the Tracks element, not the element itself.
    let real = candidates.find(|at| *at < 3 || bytes[at - 3..*at] != EBML_SEEK_ID_HEADER);
    real.and_then(|at| track_types(bytes, at)).is_some_and(|(audio, video)| audio && !video)
}

/// (has audio, has video) from the Tracks element at `at`; `None` when it holds no readable track type.
fn track_types(bytes: &[u8], at: usize) -> Option<(bool, bool)> {
    let (size, len) = vint(bytes.get(at + 4..)?, false)?;
    let start = at + 4 + len;
    let end = usize::try_from(size).map_or(bytes.len(), |s| start.saturating_add(s).min(bytes.len()));
    let (mut audio, mut video) = (false, false);
    for (id, body) in children(&bytes[start..end]) {
        if id != EBML_TRACK_ENTRY {
            continue;
        }
        for (child, value) in children(body) {
            if child == EBML_TRACK_TYPE {
                let kind = value.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                audio |= kind == TRACK_TYPE_AUDIO;
                video |= kind == TRACK_TYPE_VIDEO;
            }
        }
    }
    (audio || video).then_some((audio, video))
}

/// Iterates EBML elements in `buf` as (id, body); stops at the first malformed or truncated element.
fn children(mut buf: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    std::iter::from_fn(move || {
        let (id, id_len) = vint(buf, true)?;
        let (size, size_len) = vint(buf.get(id_len..)?, false)?;
        let start = id_len + size_len;
        let end = usize::try_from(size).ok().and_then(|s| start.checked_add(s))?.min(buf.len());
        let body = buf.get(start..end)?;
        buf = &buf[end..];
        Some((u32::try_from(id).ok()?, body))
    })
}

/// EBML variable-length integer: the count of leading zero bits gives the length. IDs keep the marker bit.
fn vint(buf: &[u8], keep_marker: bool) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 || buf.len() < len {
        return None;
    }
    let mut value = if keep_marker { u64::from(first) } else { u64::from(first) & ((1u64 << (8 - len)) - 1) };
    for b in &buf[1..len] {
        value = (value << 8) | u64::from(*b);
    }
    Some((value, len))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn webm(track_types: &[u8]) -> Vec<u8> {
        let mut out = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84];
        out.extend_from_slice(b"webm");
        out.extend_from_slice(&[0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        let entries: Vec<u8> =
            track_types.iter().flat_map(|t| [0xAE, 0x86, 0xD7, 0x81, 0x01, 0x83, 0x81, *t]).collect();
        out.extend_from_slice(&[0x16, 0x54, 0xAE, 0x6B, 0x80 | entries.len() as u8]);
        out.extend_from_slice(&entries);
        out.resize(400, 0);
        out
    }

    #[test]
    fn webm_audio_vs_video() {
        assert_eq!(sniff(&webm(&[2])), Some(DocKind::Audio));
        assert_eq!(sniff(&webm(&[1, 2])), Some(DocKind::Video));
    }

    #[test]
    fn a_seek_head_pointing_at_the_tracks_is_not_the_track_list() {
        // ffmpeg's layout: Segment, then a SeekHead whose SeekID names Tracks, then the Tracks themselves.
        let plain = webm(&[2]);
        let segment_at = plain.windows(4).position(|w| w == [0x18, 0x53, 0x80, 0x67]).unwrap() + 12;
        let mut with_seek = plain[..segment_at].to_vec();
        with_seek.extend_from_slice(&[0x11, 0x4D, 0x9B, 0x74, 0x8E, 0x4D, 0xBB, 0x8B, 0x53, 0xAB, 0x84]);
        with_seek.extend_from_slice(&EBML_TRACKS.to_be_bytes());
        with_seek.extend_from_slice(&[0x53, 0xAC, 0x81, 0xD8]);
        with_seek.extend_from_slice(&plain[segment_at..]);
        assert_eq!(sniff(&with_seek), Some(DocKind::Audio));
    }

    #[test]
    fn containers() {
        let mut wav = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00".to_vec();
        wav.resize(64, 0);
        assert_eq!(sniff(&wav), Some(DocKind::Audio));
        assert_eq!(sniff(b"ID3\x04\x00\x00\x00\x00\x00\x00"), Some(DocKind::Audio));
        assert_eq!(sniff(&[0xFF, 0xFA, 0x90, 0x00]), Some(DocKind::Audio));
        assert_eq!(sniff(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom"), Some(DocKind::Audio));
        assert_eq!(sniff(b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"), Some(DocKind::Video));
        assert_eq!(sniff(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  "), Some(DocKind::Video));
        assert_eq!(sniff(b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"), Some(DocKind::Audio));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), None);
    }
}
