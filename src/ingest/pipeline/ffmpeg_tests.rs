//! Runs the real ffmpeg (`.ci/run` installs it) on media generated here with its `lavfi` sources.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn settings() -> TranscriptionSettings {
    crate::config::defaults(Path::new("/tmp/unused")).unwrap().transcription
}

/// `ffmpeg -f lavfi -i <source>... <out>`; panics with a clear message when ffmpeg is missing.
fn generate(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg is installed (apt-get install ffmpeg)");
    assert!(status.success(), "ffmpeg generating {name}");
    out
}

fn sine(dir: &Path, name: &str, secs: u32) -> PathBuf {
    generate(dir, name, &["-f", "lavfi", "-i", &format!("sine=frequency=440:duration={secs}")])
}

#[tokio::test]
async fn long_audio_is_split_into_timed_flac_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let input = sine(dir.path(), "talk.mp3", 25);
    let mut settings = settings();
    settings.segment_secs = 10;
    let probe = probe(&settings, &input, demuxer_of(&input).await.unwrap()).await.unwrap();
    assert!(probe.has_audio && !probe.has_video);
    assert!(probe.duration_ms.unwrap().abs_diff(25_000) < 200, "{probe:?}");
    let work = WorkDir::create(dir.path()).await.unwrap();
    let pieces = prepare(&settings, &input, work.path()).await.unwrap();
    assert_eq!(pieces.len(), 3, "{pieces:?}");
    for (piece, (start, end)) in pieces.iter().zip([(0, 10_000), (10_000, 20_000), (20_000, 25_000)]) {
        assert!(piece.start_ms.abs_diff(start) <= 100 && piece.end_ms.abs_diff(end) <= 150, "{piece:?}");
        let head = std::fs::read(&piece.path).unwrap();
        assert!(head.starts_with(b"fLaC"), "{} is FLAC", piece.path.display());
    }
    let kept = work.path().to_path_buf();
    drop(work);
    assert!(!kept.exists(), "the work dir goes with its guard");
}

#[test]
fn transcripts_move_onto_the_recording_timeline() {
    let piece = AudioPiece { path: PathBuf::from("p"), start_ms: 600_000, end_ms: 1_200_000 };
    let placed = piece.place(vec![
        Segment { start_ms: 1_500, end_ms: 4_000, text: "Loops.".into() },
        Segment { start_ms: 599_000, end_ms: 601_000, text: "Past the end.".into() },
        Segment { start_ms: 0, end_ms: 0, text: "No span.".into() },
    ]);
    assert_eq!((placed[0].start_ms, placed[0].end_ms), (601_500, 604_000));
    assert_eq!((placed[1].start_ms, placed[1].end_ms), (1_199_000, 1_200_000), "clamped to the piece");
    assert_eq!((placed[2].start_ms, placed[2].end_ms), (600_000, 1_200_000), "whole piece");
}

#[test]
fn segment_lists_are_parsed_strictly() {
    let dir = Path::new("/w");
    let csv = "piece-00000.flac,0.000000,10.005333\npiece-00001.flac,10.005333,12.5\npiece-00002.flac,12.5,12.5\n";
    let pieces = parse_segment_list(csv, dir).unwrap();
    assert_eq!(pieces.len(), 2, "the empty last piece is dropped");
    assert_eq!((pieces[1].start_ms, pieces[1].end_ms), (10_005, 12_500));
    assert_eq!(pieces[1].path, dir.join("piece-00001.flac"));
    assert!(parse_segment_list("../x.flac,0,1\n", dir).is_err());
    assert!(parse_segment_list("piece.flac,zero,1\n", dir).is_err());
}

#[tokio::test]
async fn a_video_without_sound_has_no_audio_track() {
    let dir = tempfile::tempdir().unwrap();
    let input =
        generate(dir.path(), "silent.mp4", &["-f", "lavfi", "-i", "testsrc=duration=2:size=160x120:rate=10", "-an"]);
    let err = prepare(&settings(), &input, dir.path()).await.unwrap_err();
    assert_eq!(err.code(), "no_audio_track", "{err}");
}

#[tokio::test]
async fn too_long_damaged_or_no_ffmpeg_fail_with_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings();
    settings.max_duration_secs = 3;
    let input = sine(dir.path(), "long.wav", 5);
    assert_eq!(prepare(&settings, &input, dir.path()).await.unwrap_err().code(), "media_too_long");

    let junk = dir.path().join("junk.mp4");
    let mut bytes = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41".to_vec();
    bytes.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(&junk, bytes).unwrap();
    let err = prepare(&settings, &junk, dir.path()).await.unwrap_err();
    assert_eq!(err.code(), "unreadable_media", "{err}");

    settings.ffprobe = "/nonexistent/ffprobe".into();
    let err = prepare(&settings, &input, dir.path()).await.unwrap_err();
    assert_eq!(err.code(), "ffmpeg_unavailable");
    assert!(err.message().contains("apt-get install ffmpeg"), "{}", err.message());
}

#[tokio::test]
async fn a_playlist_posing_as_a_recording_never_makes_ffmpeg_read_another_file() {
    let dir = tempfile::tempdir().unwrap();
    // ffmpeg left to guess would take this for an HLS playlist and transcode the file it names.
    let elsewhere = generate(dir.path(), "elsewhere.ts", &["-f", "lavfi", "-i", "sine=frequency=440:duration=3"]);
    let playlist = format!("#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3,\n{}\n#EXT-X-ENDLIST\n", elsewhere.display());
    let input = dir.path().join("talk.mp3");
    std::fs::write(&input, playlist).unwrap();
    let work = tempfile::tempdir().unwrap();
    let err = prepare(&settings(), &input, work.path()).await.unwrap_err();
    assert_eq!(err.code(), "unreadable_media", "{err}");
    assert!(std::fs::read_dir(work.path()).unwrap().next().is_none(), "nothing was converted");
}
