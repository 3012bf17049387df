//! Cross-format tests: happy paths with structure and the guard. Hostile inputs and the eval set are in the
//! submodules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::fixtures::{self, para, table};
use super::*;

pub(super) fn limits() -> Limits {
    Limits::default()
}

#[test]
fn docx_headings_tables_and_title() {
    let body = [
        para(Some("Titel"), "Python Course"),
        para(None, "Preface text."),
        para(Some("berschrift1"), "Chapter 2"),
        para(Some("berschrift2"), "Loops"),
        r#"<w:p><w:r><w:t>See </w:t></w:r><w:hyperlink r:id="rId9"><w:r><w:t>the docs</w:t></w:r></w:hyperlink><w:r><w:t> &amp; more.</w:t></w:r></w:p>"#.to_owned(),
        table(&[&["Keyword", "Meaning"], &["break", "leave the loop"]]),
        para(Some("Heading2"), "Functions"),
        para(None, "def f(): pass"),
    ]
    .concat();
    let bytes = fixtures::docx(&body);
    assert_eq!(sniff(&bytes, Some("upload.bin")).unwrap(), DocKind::Docx);
    let out = extract(DocKind::Docx, &bytes, &limits()).unwrap();
    assert_eq!(out.title.as_deref(), Some("Intro & Loops"), "core.xml title wins over the Title paragraph");
    let loops = out.sections.iter().find(|s| s.heading_path == ["Python Course", "Chapter 2", "Loops"]).unwrap();
    assert!(loops.text.contains("See the docs & more."), "hyperlink text kept: {}", loops.text);
    assert!(loops.text.contains("Keyword | Meaning\nbreak | leave the loop"), "table cells: {}", loops.text);
    let functions = out.sections.iter().find(|s| s.heading_path == ["Python Course", "Chapter 2", "Functions"]);
    assert!(functions.unwrap().text.contains("def f(): pass"));
    assert!(out.sections.iter().any(|s| s.heading_path == ["Python Course"] && s.text.contains("Preface text.")));
}

#[test]
fn pptx_slides_in_show_order_with_notes() {
    let bytes = fixtures::pptx();
    assert_eq!(sniff(&bytes, None).unwrap(), DocKind::Pptx);
    let out = extract(DocKind::Pptx, &bytes, &limits()).unwrap();
    assert_eq!(out.title.as_deref(), Some("Python & You"), "empty core title falls back to first slide title");
    let slides: Vec<_> = out.sections.iter().map(|s| (s.slide, s.heading_path.clone(), s.text.as_str())).collect();
    assert_eq!(slides.len(), 3);
    assert_eq!(
        slides[0],
        (Some(1), vec!["Python & You".to_owned()], "Python & You\nWelcome!\n\nSpeaker notes:\nSay hello first.")
    );
    assert_eq!(slides[1], (Some(2), vec!["Loops".to_owned()], "Loops\nfor x in xs\nwhile cond"));
    assert_eq!(slides[2], (Some(3), vec![], "No title here\n\nSpeaker notes:\nNotes found by number."));
}

#[test]
fn pdf_pages_and_title() {
    let bytes = fixtures::pdf(&["First page text", "", "Third page here"]);
    assert_eq!(sniff(&bytes, Some("x.pdf")).unwrap(), DocKind::Pdf);
    let out = extract(DocKind::Pdf, &bytes, &limits()).unwrap();
    assert_eq!(out.title.as_deref(), Some("Lecture Notes"));
    let pages: Vec<_> = out.sections.iter().map(|s| (s.page, s.text.as_str())).collect();
    assert_eq!(pages, vec![(Some(1), "First page text"), (Some(3), "Third page here")]);
}

#[tokio::test]
async fn guard_turns_panics_into_extractor_crashed() {
    let err = guarded(Duration::from_secs(5), |_: &AtomicBool| -> Result<(), ExtractError> { panic!("parser bug") })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "extractor_crashed");
    assert!(err.to_string().contains("parser bug"));
}

#[tokio::test]
async fn guard_times_out_and_cancels_the_worker() {
    let (tx, rx) = std::sync::mpsc::channel();
    let err = guarded(Duration::from_millis(50), move |cancel: &AtomicBool| -> Result<(), ExtractError> {
        let started = std::time::Instant::now();
        while !cancel.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        tx.send(cancel.load(Ordering::Relaxed)).unwrap();
        Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(err.code(), "extraction_timeout");
    let saw_cancel = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(5))).await.unwrap();
    assert_eq!(saw_cancel, Ok(true), "worker observed the cancel flag");
}

#[tokio::test]
async fn extract_guarded_happy_path_and_errors() {
    let bytes = bytes::Bytes::from(fixtures::pdf(&["guarded text"]));
    let out =
        extract_guarded(DocKind::Pdf, bytes, limits(), Duration::from_secs(30), Default::default()).await.unwrap();
    assert_eq!(out.sections[0].text, "guarded text");
    let err = extract_guarded(
        DocKind::Docx,
        bytes::Bytes::from_static(b"PK\x03\x04junk"),
        limits(),
        Duration::from_secs(30),
        Default::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "corrupt_docx");
}

#[test]
fn every_error_has_a_code_and_message() {
    let errors = [
        ExtractError::Unsupported("x".into()),
        ExtractError::EmptyDocument,
        ExtractError::TypeMismatch { claimed: "pdf".into(), detected: "plain text".into() },
        ExtractError::EncryptedPdf,
        ExtractError::UnreadablePdf("x".into()),
        ExtractError::TooManyPages { pages: 3, limit: 2 },
        ExtractError::CorruptDocx("x".into()),
        ExtractError::CorruptPptx("x".into()),
        ExtractError::ZipBomb("x".into()),
        ExtractError::NotText,
        ExtractError::TextTooLarge { limit: 1 << 20 },
        ExtractError::ExtractionTimeout(Duration::from_secs(1)),
        ExtractError::ExtractorCrashed("x".into()),
        ExtractError::NeedsTranscription(DocKind::Audio),
    ];
    let codes: std::collections::HashSet<_> = errors.iter().map(ExtractError::code).collect();
    assert_eq!(codes.len(), errors.len(), "codes are distinct");
    for e in &errors {
        assert!(e.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        assert!(e.message().ends_with('.'), "{}", e.message());
    }
    assert_eq!(serde_json::to_string(&DocKind::Markdown).unwrap(), "\"markdown\"");
}

mod eval;
mod fuzz;
mod hostile;
