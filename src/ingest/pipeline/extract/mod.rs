//! Turn uploaded bytes into structured text, safely.
//!
//! Two steps: [`sniff`] decides what the bytes really are (the client's filename and MIME type are only hints),
//! then [`extract`] pulls out text while keeping the structure citations need (page, slide, heading trail, cue
//! times). Uploads are untrusted, so every failure is a typed [`ExtractError`] with a stable code, and the ingest
//! job goes through [`extract_guarded`], which also contains parser panics and runaway parsers.
//!
//! Each format lives in its own file; the shared plumbing (limits, the text budget, the heading outline) is here.

mod docx;
mod headings;
mod html;
mod markdown;
mod media;
mod ooxml;
mod pdf;
mod pdf_guard;
mod pptx;
mod progress;
mod sniff;
mod subtitles;
mod text;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use progress::Progress;
pub use sniff::{TEXT_SAMPLE, sniff};

/// The ffmpeg demuxer of a recording's bytes (`mp3`, `wav`, `mov`, `ogg`, `matroska`), if it is one we accept.
pub fn media_demuxer(head: &[u8]) -> Option<&'static str> {
    media::demuxer(head)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    Pdf,
    Docx,
    Pptx,
    Text,
    Markdown,
    Html,
    Srt,
    Vtt,
    Audio,
    Video,
}

/// One citable piece of a document. Only the location fields that make sense for the format are set.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Section {
    pub text: String,
    /// PDF page (1-based).
    pub page: Option<u32>,
    /// PPTX slide (1-based, in presentation order).
    pub slide: Option<u32>,
    /// DOCX/Markdown/HTML heading trail (PPTX: the slide title), e.g. `["Chapter 2", "Loops"]`.
    pub heading_path: Vec<String>,
    /// SRT/VTT cue start (and later transcripts).
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Extracted {
    pub title: Option<String>,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// PDFs with more pages are refused before any text is extracted.
    pub max_pages: u32,
    /// Total decompressed bytes a ZIP-based format (DOCX, PPTX) may expand to; also caps PDF stream inflation.
    pub max_uncompressed_bytes: u64,
    /// Entries allowed in a ZIP-based format's central directory.
    pub max_zip_entries: usize,
    /// Total extracted text; more is refused rather than silently truncated (answers would cite missing text).
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pages: 2000,
            max_uncompressed_bytes: 200 * 1024 * 1024,
            max_zip_entries: 10_000,
            max_text_bytes: 50 * 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("unsupported file type: {0}")]
    Unsupported(String),
    #[error("document contains no text")]
    EmptyDocument,
    #[error("file is named as {claimed} but contains {detected}")]
    TypeMismatch { claimed: String, detected: String },
    #[error("PDF is password-protected")]
    EncryptedPdf,
    #[error("PDF could not be read: {0}")]
    UnreadablePdf(String),
    #[error("document has {pages} pages, limit is {limit}")]
    TooManyPages { pages: u32, limit: u32 },
    #[error("DOCX is corrupt: {0}")]
    CorruptDocx(String),
    #[error("PPTX is corrupt: {0}")]
    CorruptPptx(String),
    #[error("decompression limits exceeded: {0}")]
    ZipBomb(String),
    #[error("file is not readable text")]
    NotText,
    #[error("extracted text exceeds the limit of {limit} bytes")]
    TextTooLarge { limit: usize },
    #[error("extraction timed out after {0:?}")]
    ExtractionTimeout(Duration),
    #[error("extractor crashed: {0}")]
    ExtractorCrashed(String),
    #[error("{0:?} needs transcription")]
    NeedsTranscription(DocKind),
}

impl ExtractError {
    /// Stable machine-readable code (API responses, metrics labels, stored job status).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unsupported(_) => "unsupported_type",
            Self::EmptyDocument => "empty_document",
            Self::TypeMismatch { .. } => "type_mismatch",
            Self::EncryptedPdf => "encrypted_pdf",
            Self::UnreadablePdf(_) => "unreadable_pdf",
            Self::TooManyPages { .. } => "too_many_pages",
            Self::CorruptDocx(_) => "corrupt_docx",
            Self::CorruptPptx(_) => "corrupt_pptx",
            Self::ZipBomb(_) => "zip_bomb",
            Self::NotText => "not_text",
            Self::TextTooLarge { .. } => "text_too_large",
            Self::ExtractionTimeout(_) => "extraction_timeout",
            Self::ExtractorCrashed(_) => "extractor_crashed",
            Self::NeedsTranscription(_) => "needs_transcription",
        }
    }

    /// A sentence for the person who uploaded the file. Parser internals stay in `Display` (logs) only.
    pub fn message(&self) -> String {
        match self {
            Self::Unsupported(what) => format!(
                "This file type is not supported ({what}). Upload PDF, Word (.docx), PowerPoint (.pptx), text, \
                 Markdown, HTML, subtitles (.srt, .vtt), audio or video."
            ),
            Self::EmptyDocument => "The file contains no text that could be extracted. If it is a scan, run it \
                                    through OCR first."
                .to_owned(),
            Self::TypeMismatch { claimed, detected } => format!(
                "The file is named as a {claimed} file but its content is {detected}. It may be damaged or an \
                 incomplete download."
            ),
            Self::EncryptedPdf => "The PDF is password-protected. Remove the password and upload it again.".to_owned(),
            Self::UnreadablePdf(_) => "The PDF could not be read; it may be damaged.".to_owned(),
            Self::TooManyPages { pages, limit } => {
                format!("The PDF has {pages} pages; at most {limit} are allowed. Split it into smaller files.")
            }
            Self::CorruptDocx(_) => "The Word document could not be read; it may be damaged.".to_owned(),
            Self::CorruptPptx(_) => "The PowerPoint file could not be read; it may be damaged.".to_owned(),
            Self::ZipBomb(_) => "The file expands to far more data than allowed and was rejected.".to_owned(),
            Self::NotText => "The file does not contain readable text (it looks like binary data).".to_owned(),
            Self::TextTooLarge { limit } => {
                format!("The file contains more than {} MiB of text. Split it into smaller files.", limit >> 20)
            }
            Self::ExtractionTimeout(_) => "Reading the file took too long. Try a smaller or simpler file.".to_owned(),
            Self::ExtractorCrashed(_) => "The file could not be processed; it may be damaged.".to_owned(),
            Self::NeedsTranscription(_) => "Audio and video are transcribed before they can be used.".to_owned(),
        }
    }
}

/// Extract text and structure, unguarded: for the extractors' tests. The ingest job uses [`extract_guarded`].
#[cfg(test)]
pub fn extract(kind: DocKind, bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    extract_cancellable(kind, bytes, limits, &AtomicBool::new(false), &Progress::default())
}

/// The guarded entry point for the ingest job: runs the extractor on the blocking pool, turns a parser panic into
/// `ExtractorCrashed` and an overrun into `ExtractionTimeout`.
pub async fn extract_guarded(
    kind: DocKind,
    bytes: bytes::Bytes,
    limits: Limits,
    timeout: Duration,
    progress: Arc<Progress>,
) -> Result<Extracted, ExtractError> {
    guarded(timeout, move |cancel: &AtomicBool| extract_cancellable(kind, &bytes, &limits, cancel, &progress)).await
}

/// Runs `f` on the blocking pool behind `catch_unwind` and a timeout. A blocking thread cannot be killed, so on
/// timeout we raise the flag handed to `f`; the extractors poll it between pages/slides/sections and stop early
/// instead of burning a pool thread to the end. Generic so the panic and timeout paths are testable.
async fn guarded<T, F>(timeout: Duration, f: F) -> Result<T, ExtractError>
where
    T: Send + 'static,
    F: FnOnce(&AtomicBool) -> Result<T, ExtractError> + Send + 'static,
{
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let task = tokio::task::spawn_blocking(move || {
        // AssertUnwindSafe: nothing `f` touches outlives it except the flag, an atomic.
        std::panic::catch_unwind(AssertUnwindSafe(|| f(&flag)))
            .unwrap_or_else(|payload| Err(ExtractError::ExtractorCrashed(panic_message(payload.as_ref()))))
    });
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(result)) => {
            if let Err(ExtractError::ExtractorCrashed(detail)) = &result {
                tracing::error!(%detail, "document extractor panicked");
            }
            result
        }
        Ok(Err(join)) => Err(ExtractError::ExtractorCrashed(join.to_string())),
        Err(_) => {
            cancel.store(true, Ordering::Relaxed);
            tracing::warn!(?timeout, "document extraction timed out");
            Err(ExtractError::ExtractionTimeout(timeout))
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

fn extract_cancellable(
    kind: DocKind,
    bytes: &[u8],
    limits: &Limits,
    cancel: &AtomicBool,
    progress: &Progress,
) -> Result<Extracted, ExtractError> {
    if matches!(kind, DocKind::Audio | DocKind::Video) {
        return Err(ExtractError::NeedsTranscription(kind));
    }
    if bytes.is_empty() {
        return Err(ExtractError::EmptyDocument);
    }
    let mut sink = Sink::new(limits, cancel, progress);
    let title = match kind {
        DocKind::Pdf => pdf::extract(bytes, limits, &mut sink)?,
        DocKind::Docx => docx::extract(bytes, limits, &mut sink)?,
        DocKind::Pptx => pptx::extract(bytes, limits, &mut sink)?,
        DocKind::Text => text::extract_plain(bytes, &mut sink)?,
        DocKind::Markdown => markdown::extract(&text::decode(bytes)?, &mut sink)?,
        DocKind::Html => html::extract(&text::decode(bytes)?, &mut sink)?,
        DocKind::Srt | DocKind::Vtt => subtitles::extract(&text::decode(bytes)?, &mut sink)?,
        DocKind::Audio | DocKind::Video => return Err(ExtractError::NeedsTranscription(kind)),
    };
    let mut extracted = sink.finish(title)?;
    if matches!(kind, DocKind::Pdf | DocKind::Text) {
        extracted.sections = headings::split_numbered(extracted.sections);
    }
    Ok(extracted)
}

/// Collects sections for every format: drops empty ones, enforces `max_text_bytes`, and is the cancellation
/// checkpoint (every push polls the flag).
struct Sink<'a> {
    sections: Vec<Section>,
    text_bytes: usize,
    max_text_bytes: usize,
    cancel: &'a AtomicBool,
    progress: &'a Progress,
}

impl<'a> Sink<'a> {
    fn new(limits: &Limits, cancel: &'a AtomicBool, progress: &'a Progress) -> Self {
        Self { sections: Vec::new(), text_bytes: 0, max_text_bytes: limits.max_text_bytes, cancel, progress }
    }

    /// A checkpoint that also reports `done` of `total` steps (pages, slides) finished.
    fn step(&self, done: usize, total: usize) -> Result<(), ExtractError> {
        self.progress.set(done, total);
        self.checkpoint()
    }

    /// Fails once the guard has given up on us, so an abandoned blocking thread stops early.
    fn checkpoint(&self) -> Result<(), ExtractError> {
        if self.cancel.load(Ordering::Relaxed) {
            // The caller already returned its own timeout error; this value is never seen by anyone.
            return Err(ExtractError::ExtractionTimeout(Duration::ZERO));
        }
        Ok(())
    }

    fn cancel_flag(&self) -> &'a AtomicBool {
        self.cancel
    }

    /// Text budget still available; extractors that build big strings themselves (PDF pages) stop at it.
    fn remaining(&self) -> usize {
        self.max_text_bytes.saturating_sub(self.text_bytes)
    }

    fn too_large(&self) -> ExtractError {
        ExtractError::TextTooLarge { limit: self.max_text_bytes }
    }

    fn push(&mut self, mut section: Section) -> Result<(), ExtractError> {
        self.checkpoint()?;
        let trimmed = section.text.trim();
        if trimmed.is_empty() {
            return Ok(());
        }
        if trimmed.len() != section.text.len() {
            section.text = trimmed.to_owned();
        }
        self.text_bytes = self.text_bytes.saturating_add(section.text.len());
        if self.text_bytes > self.max_text_bytes {
            return Err(self.too_large());
        }
        self.sections.push(section);
        Ok(())
    }

    fn finish(self, title: Option<String>) -> Result<Extracted, ExtractError> {
        if self.sections.is_empty() {
            return Err(ExtractError::EmptyDocument);
        }
        let title = title.map(|t| t.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|t| !t.is_empty());
        Ok(Extracted { title, sections: self.sections })
    }
}

/// Builds heading-scoped sections for DOCX, Markdown, HTML and plain text: a heading closes the current section
/// and updates the trail; body text accumulates under the current trail.
struct Outline {
    /// (level, heading text); level 0 is a document title, 1..=6 are headings.
    trail: Vec<(u8, String)>,
    text: String,
}

/// Long heading-less stretches are cut at paragraph boundaries so no single section grows unbounded; proper
/// chunking happens downstream, this only keeps sections a sane size for storage and citation.
const SOFT_SECTION_BYTES: usize = 256 * 1024;

impl Outline {
    fn new() -> Self {
        Self { trail: Vec::new(), text: String::new() }
    }

    fn heading(&mut self, sink: &mut Sink<'_>, level: u8, heading: &str) -> Result<(), ExtractError> {
        let heading = heading.split_whitespace().collect::<Vec<_>>().join(" ");
        if heading.is_empty() {
            return Ok(());
        }
        self.flush(sink)?;
        while self.trail.last().is_some_and(|(l, _)| *l >= level) {
            self.trail.pop();
        }
        self.trail.push((level, heading.clone()));
        // The heading also opens the section text: retrieval and the tutor see it in context.
        self.text.push_str(&heading);
        Ok(())
    }

    /// Appends one paragraph (or line block); `raw` text is kept as is, e.g. code.
    fn paragraph(&mut self, sink: &mut Sink<'_>, raw: &str) -> Result<(), ExtractError> {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(raw);
        if self.text.len() >= SOFT_SECTION_BYTES {
            self.flush(sink)?;
        }
        Ok(())
    }

    fn flush(&mut self, sink: &mut Sink<'_>) -> Result<(), ExtractError> {
        let text = std::mem::take(&mut self.text);
        let heading_path = self.trail.iter().map(|(_, h)| h.clone()).collect();
        sink.push(Section { text, heading_path, ..Section::default() })
    }

    fn finish(mut self, sink: &mut Sink<'_>) -> Result<(), ExtractError> {
        self.flush(sink)
    }
}
