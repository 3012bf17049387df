//! PDF: lopdf loads and checks the document (encryption, page count, bombs, recursion hazards) before pdf-extract
//! turns each page's content stream into text, one section per page.
//!
//! Pages are extracted one at a time, each behind its own `catch_unwind`: pdf-extract panics on some malformed
//! content (missing fonts, bad operands), and one bad page should cost that page, not the whole document.

use std::cell::Cell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use lopdf::{Document, LoadOptions};

use super::{ExtractError, Limits, Section, Sink, panic_message, pdf_guard};

pub(super) fn extract(bytes: &[u8], limits: &Limits, sink: &mut Sink<'_>) -> Result<Option<String>, ExtractError> {
    let doc = load(bytes)?;
    // lopdf already tried the empty user password (owner-password-only PDFs open in any viewer, so we read them
    // too); the /Encrypt entry survives only when a real password is needed.
    if doc.is_encrypted() {
        return Err(ExtractError::EncryptedPdf);
    }
    let pages = doc.get_pages();
    let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
    if count > limits.max_pages {
        return Err(ExtractError::TooManyPages { pages: count, limit: limits.max_pages });
    }
    if pages.is_empty() {
        return Err(ExtractError::UnreadablePdf("no pages".to_owned()));
    }
    pdf_guard::check_stream_sizes(&doc, limits, sink)?;
    let hazards = pdf_guard::recursion_hazards(&doc, &pages);

    let mut failed = 0usize;
    let mut panicked: Option<String> = None;
    let mut last_error = String::new();
    for (index, &number) in pages.keys().enumerate() {
        sink.step(index, pages.len())?;
        if hazards.contains(&number) {
            tracing::warn!(page = number, "skipping PDF page with cyclic or too deeply nested structure");
            failed += 1;
            last_error = format!("page {number} has a cyclic page tree or XObject nesting");
            continue;
        }
        match page_text(&doc, number, sink.remaining(), sink.cancel_flag()) {
            Ok(text) => sink.push(Section { text, page: Some(number), ..Section::default() })?,
            Err(PageError::TooLarge) => return Err(sink.too_large()),
            Err(PageError::Cancelled) => {
                sink.checkpoint()?;
            }
            Err(PageError::Failed(e)) => {
                tracing::debug!(page = number, error = %e, "PDF page could not be extracted");
                failed += 1;
                last_error = e;
            }
            Err(PageError::Panicked(e)) => {
                tracing::warn!(page = number, panic = %e, "pdf-extract panicked on a page");
                failed += 1;
                panicked.get_or_insert(e);
            }
        }
    }
    if failed == pages.len() {
        return Err(match panicked {
            Some(msg) => ExtractError::ExtractorCrashed(format!("pdf-extract: {msg}")),
            None => ExtractError::UnreadablePdf(last_error),
        });
    }
    Ok(info_title(&doc))
}

fn load(bytes: &[u8]) -> Result<Document, ExtractError> {
    let options = LoadOptions { filter: Some(pdf_guard::object_stream_filter), ..LoadOptions::default() };
    Document::load_mem_with_options(bytes, options).map_err(|e| {
        let encryption_failure = matches!(e, lopdf::Error::Decryption(_) | lopdf::Error::InvalidPassword);
        // A damaged or exotic security handler makes loading fail outright; still tell the user the real reason.
        if encryption_failure || bytes.windows(8).any(|w| w == b"/Encrypt") {
            ExtractError::EncryptedPdf
        } else {
            ExtractError::UnreadablePdf(e.to_string())
        }
    })
}

enum PageError {
    TooLarge,
    Cancelled,
    Failed(String),
    Panicked(String),
}

fn page_text(doc: &Document, page: u32, budget: usize, cancel: &AtomicBool) -> Result<String, PageError> {
    let mut text = String::new();
    let overflow = Cell::new(false);
    let result = catch_unwind(AssertUnwindSafe(|| {
        let writer = Capped { out: &mut text, budget, overflow: &overflow, cancel };
        let mut output = pdf_extract::PlainTextOutput::new(writer);
        pdf_extract::output_doc_page(doc, &mut output, page)
    }));
    match result {
        Ok(Ok(())) => Ok(text),
        Ok(Err(_)) if overflow.get() => Err(PageError::TooLarge),
        Ok(Err(_)) if cancel.load(Ordering::Relaxed) => Err(PageError::Cancelled),
        Ok(Err(e)) => Err(PageError::Failed(e.to_string())),
        Err(payload) => Err(PageError::Panicked(panic_message(payload.as_ref()))),
    }
}

/// The text sink handed to pdf-extract: stops the page (by failing the write) when the text budget runs out or the
/// guard has cancelled us, so neither a text bomb nor a timed-out job keeps running inside the parser.
struct Capped<'a> {
    out: &'a mut String,
    budget: usize,
    overflow: &'a Cell<bool>,
    cancel: &'a AtomicBool,
}

impl fmt::Write for Capped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(fmt::Error);
        }
        if self.out.len().saturating_add(s.len()) > self.budget {
            self.overflow.set(true);
            return Err(fmt::Error);
        }
        self.out.push_str(s);
        Ok(())
    }
}

impl pdf_extract::ConvertToFmt for Capped<'_> {
    type Writer = Self;
    fn convert(self) -> Self {
        self
    }
}

/// `/Title` from the document information dictionary.
fn info_title(doc: &Document) -> Option<String> {
    let info = doc.trailer.get(b"Info").ok()?;
    let (_, info) = doc.dereference(info).ok()?;
    let title = info.as_dict().ok()?.get(b"Title").ok()?;
    let (_, title) = doc.dereference(title).ok()?;
    let title = lopdf::decode_text_string(title).ok()?;
    let title = title.trim();
    (!title.is_empty()).then(|| title.to_owned())
}
