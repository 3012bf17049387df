//! Audio and video → pieces of speech-ready audio, with ffprobe and ffmpeg as child processes.
//!
//! [`probe`] checks there is an audio stream and how long it is; [`split`] converts that stream to 16 kHz mono
//! FLAC (what Whisper models resample to anyway; about 1 MB a minute, far under OpenAI's 25 MB per request) in
//! pieces of `segment_secs`, and reads back where each piece starts from ffmpeg's segment list, so transcript
//! times are offset by where the piece really starts, not by where we asked it to. Uploads are untrusted: every
//! child runs with a timeout and is killed if the job is dropped.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::config::TranscriptionSettings;
use crate::platform::llm::transcription::Segment;

const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// Demuxing a long video to reach its audio reads the whole file; this bounds a hostile or stuck one.
const CONVERT_TIMEOUT: Duration = Duration::from_secs(1800);

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{0} is not installed")]
    FfmpegMissing(String),
    #[error("no audio stream")]
    NoAudioTrack,
    #[error("media could not be read: {0}")]
    Unreadable(String),
    #[error("recording lasts {secs} s, limit {limit} s")]
    TooLong { secs: u64, limit: u64 },
    #[error("{0} took longer than {1:?}")]
    Timeout(&'static str, Duration),
    /// Our side (temp files, spawning): worth another attempt.
    #[error(transparent)]
    Local(#[from] anyhow::Error),
}

impl MediaError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::FfmpegMissing(_) => "ffmpeg_unavailable",
            Self::NoAudioTrack => "no_audio_track",
            Self::Unreadable(_) => "unreadable_media",
            Self::TooLong { .. } => "media_too_long",
            Self::Timeout(..) => "media_timeout",
            Self::Local(_) => "processing_failed",
        }
    }

    /// For the uploader; ffmpeg's own words stay in the logs.
    pub fn message(&self) -> String {
        match self {
            Self::FfmpegMissing(program) => format!(
                "Audio and video need ffmpeg on the server, and `{program}` was not found. Install it (Debian/Ubuntu: \
                 apt-get install ffmpeg) or set transcription.ffmpeg / transcription.ffprobe, then reprocess."
            ),
            Self::NoAudioTrack => "The video has no audio track, so there is nothing to transcribe.".into(),
            Self::Unreadable(_) => {
                "The recording could not be read; it may be damaged or in a format ffmpeg does not know.".into()
            }
            Self::TooLong { secs, limit } => format!(
                "The recording lasts {} min; at most {} min are transcribed. Split it into shorter files.",
                secs / 60,
                limit / 60
            ),
            Self::Timeout(..) => "Reading the recording took too long. Try a smaller file.".into(),
            Self::Local(_) => "The recording could not be processed on the server.".into(),
        }
    }
}

/// A temp folder removed however the job ends.
pub struct WorkDir(PathBuf);

impl WorkDir {
    pub async fn create(parent: &Path) -> anyhow::Result<Self> {
        let dir = parent.join(format!("media-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::create_dir_all(&dir).await.with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub has_audio: bool,
    pub has_video: bool,
    /// `None` when the container does not say (browser recordings often do not).
    pub duration_ms: Option<u64>,
}

/// One converted piece of the audio and where it sits in the original.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioPiece {
    pub path: PathBuf,
    pub start_ms: u64,
    pub end_ms: u64,
}

impl AudioPiece {
    /// Moves a piece's transcript onto the recording's timeline. A segment without a span (a server that sent
    /// only text) covers the whole piece.
    pub fn place(&self, segments: Vec<Segment>) -> Vec<Segment> {
        segments
            .into_iter()
            .map(|s| {
                let start_ms = (self.start_ms + s.start_ms).min(self.end_ms);
                let end_ms =
                    if s.end_ms > s.start_ms { (self.start_ms + s.end_ms).min(self.end_ms) } else { self.end_ms };
                Segment { start_ms, end_ms: end_ms.max(start_ms), text: s.text }
            })
            .collect()
    }
}

#[derive(Deserialize)]
struct ProbeJson {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    format: Option<ProbeFormat>,
}

#[derive(Deserialize)]
struct ProbeStream {
    codec_type: Option<String>,
}

#[derive(Deserialize)]
struct ProbeFormat {
    duration: Option<String>,
}

/// Probes, checks, and splits: the pieces to transcribe, in order.
pub async fn prepare(
    settings: &TranscriptionSettings,
    input: &Path,
    dir: &Path,
) -> Result<Vec<AudioPiece>, MediaError> {
    let format = demuxer_of(input).await?;
    let found = probe(settings, input, format).await?;
    if !found.has_audio {
        return Err(MediaError::NoAudioTrack);
    }
    let limit = settings.max_duration_secs;
    if let Some(ms) = found.duration_ms.filter(|ms| *ms > limit * 1000) {
        return Err(MediaError::TooLong { secs: ms / 1000, limit });
    }
    split(settings, input, dir, format).await
}

/// The demuxer the file's own bytes call for; a recording we do not recognise is refused before ffmpeg sees it.
async fn demuxer_of(input: &Path) -> Result<&'static str, MediaError> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::with_capacity(64 * 1024);
    let file = tokio::fs::File::open(input).await.with_context(|| format!("opening {}", input.display()))?;
    file.take(64 * 1024).read_to_end(&mut head).await.context("reading the recording's head")?;
    super::extract::media_demuxer(&head)
        .ok_or_else(|| MediaError::Unreadable("not a recording in a format we accept".into()))
}

/// Input options for every ffmpeg and ffprobe run: the format named (never guessed), and local files only, so no
/// container can make the tool open another file, a device or a URL.
fn input_options(format: &str) -> Vec<OsString> {
    vec!["-protocol_whitelist".into(), "file".into(), "-f".into(), format.into()]
}

pub async fn probe(settings: &TranscriptionSettings, input: &Path, format: &str) -> Result<Probe, MediaError> {
    let mut args: Vec<OsString> = vec!["-v".into(), "error".into()];
    args.extend(input_options(format));
    args.extend::<[OsString; 5]>([
        "-print_format".into(),
        "json".into(),
        "-show_entries".into(),
        "stream=codec_type:format=duration".into(),
        input.into(),
    ]);
    let stdout = run(&settings.ffprobe, args, PROBE_TIMEOUT, "reading the recording").await?;
    let parsed: ProbeJson = serde_json::from_slice(&stdout)
        .map_err(|e| MediaError::Unreadable(format!("ffprobe printed something unexpected: {e}")))?;
    let has = |kind: &str| parsed.streams.iter().any(|s| s.codec_type.as_deref() == Some(kind));
    let duration_ms = parsed
        .format
        .and_then(|f| f.duration)
        .and_then(|d| d.trim().parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d >= 0.0)
        .map(|d| (d * 1000.0).round() as u64);
    Ok(Probe { has_audio: has("audio"), has_video: has("video"), duration_ms })
}

/// Converts the first audio stream into `segment_secs` pieces in `dir`, at most `max_duration_secs` of it.
pub async fn split(
    settings: &TranscriptionSettings,
    input: &Path,
    dir: &Path,
    format: &str,
) -> Result<Vec<AudioPiece>, MediaError> {
    let list = dir.join("pieces.csv");
    let segment_secs = settings.segment_secs.max(1);
    let mut args: Vec<OsString> = vec!["-nostdin".into(), "-hide_banner".into(), "-loglevel".into(), "error".into()];
    args.extend(input_options(format));
    args.extend::<Vec<OsString>>(vec![
        "-i".into(),
        input.into(),
        "-map".into(),
        "0:a:0".into(),
        "-vn".into(),
        "-sn".into(),
        "-dn".into(),
        "-ac".into(),
        "1".into(),
        "-ar".into(),
        "16000".into(),
        "-c:a".into(),
        "flac".into(),
        // One second past the limit, so a recording over it is seen as such rather than silently cut.
        "-t".into(),
        (settings.max_duration_secs + 1).to_string().into(),
        "-f".into(),
        "segment".into(),
        "-segment_time".into(),
        segment_secs.to_string().into(),
        "-segment_list".into(),
        list.as_os_str().into(),
        "-segment_list_type".into(),
        "csv".into(),
        "-reset_timestamps".into(),
        "1".into(),
        dir.join("piece-%05d.flac").into(),
    ]);
    run(&settings.ffmpeg, args, CONVERT_TIMEOUT, "converting the audio").await?;
    let csv = tokio::fs::read_to_string(&list).await.context("reading ffmpeg's segment list")?;
    let pieces = parse_segment_list(&csv, dir)?;
    let total_ms = pieces.last().map_or(0, |p| p.end_ms);
    if total_ms > settings.max_duration_secs * 1000 {
        return Err(MediaError::TooLong { secs: total_ms / 1000, limit: settings.max_duration_secs });
    }
    Ok(pieces)
}

/// ffmpeg's CSV segment list: `file,start,end` per line, times in seconds. Empty pieces are dropped.
fn parse_segment_list(csv: &str, dir: &Path) -> Result<Vec<AudioPiece>, MediaError> {
    let mut pieces = Vec::new();
    for line in csv.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || MediaError::Local(anyhow::anyhow!("unexpected segment list line {line:?}"));
        let mut fields = line.rsplitn(3, ',');
        let (Some(end), Some(start), Some(file)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad());
        };
        let secs = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
        let (Some(start), Some(end)) = (secs(start), secs(end)) else { return Err(bad()) };
        // The names are ours (`piece-%05d.flac`); refuse anything that would leave the folder.
        if file.contains(['/', '\\']) || file.starts_with('.') {
            return Err(bad());
        }
        let (start_ms, end_ms) = ((start * 1000.0).round() as u64, (end * 1000.0).round() as u64);
        if end_ms > start_ms {
            pieces.push(AudioPiece { path: dir.join(file), start_ms, end_ms });
        }
    }
    Ok(pieces)
}

/// Runs a child to completion within `timeout`; its stdout on success. Dropping the future kills the child.
async fn run(program: &str, args: Vec<OsString>, timeout: Duration, what: &'static str) -> Result<Vec<u8>, MediaError> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(MediaError::FfmpegMissing(program.into())),
        Err(e) => return Err(MediaError::Local(anyhow::Error::new(e).context(format!("starting {program}")))),
    };
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(output) => output.with_context(|| format!("waiting for {program}"))?,
        Err(_) => return Err(MediaError::Timeout(what, timeout)),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let detail: String = stderr.trim().chars().take(1000).collect();
        tracing::warn!(program, status = %output.status, %detail, "media tool failed");
        return Err(MediaError::Unreadable(format!("{program} {}: {detail}", output.status)));
    }
    Ok(output.stdout)
}

#[cfg(test)]
#[path = "ffmpeg_tests.rs"]
mod tests;
