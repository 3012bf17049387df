//! Mutation fuzzing of every extractor through the guarded entry point the ingest job uses: a damaged document
//! must end in text or a typed error, within the time limit, without a parser panic escaping the parser's own
//! guard. pdf-extract (and the CMap parser under it) panics on many damaged PDFs: `pdf.rs` runs it page by page
//! behind `catch_unwind`, so such a PDF keeps its readable pages or, with none, ends `extractor_crashed`, a typed
//! error; those are counted as contained. Any other panic or a timeout is a finding. Seeds: `tests/fuzz/corpus/`, the second evaluation set's
//! documents and the fixtures. `BWENGE_FUZZ_ITERATIONS` sets the cases per format.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::super::fixtures::{self, para, table};
use super::super::*;
use super::limits;
use crate::platform::mutate;

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)).unwrap()
}

async fn fuzz(kind: DocKind, salt: u64, seeds: Vec<Vec<u8>>) {
    let (mut text, mut refused, mut contained) = (0, 0, 0);
    let mut findings = Vec::new();
    for (i, case) in mutate::cases(salt, &seeds).enumerate() {
        let progress = Arc::new(Progress::default());
        let outcome =
            extract_guarded(kind, bytes::Bytes::from(case.clone()), limits(), Duration::from_secs(20), progress).await;
        match outcome {
            Ok(_) => text += 1,
            Err(ExtractError::ExtractorCrashed(panic)) if kind == DocKind::Pdf && panic.starts_with("pdf-extract:") => {
                contained += 1;
            }
            Err(err @ (ExtractError::ExtractorCrashed(_) | ExtractError::ExtractionTimeout(_))) => {
                let saved = std::env::temp_dir().join(format!("bwenge-fuzz-{kind:?}-{i}.bin"));
                std::fs::write(&saved, &case).unwrap();
                findings.push(format!("case {i} ({}): {err:?}", saved.display()));
            }
            Err(_) => refused += 1,
        }
    }
    assert!(findings.is_empty(), "{kind:?}: {findings:#?}");
    assert!(text + refused + contained == mutate::iterations(), "every case ended");
    println!("{kind:?}: {text} read, {refused} refused with a typed error, {contained} parser panics contained");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuzz_pdf() {
    let seeds = vec![
        read("benches/eval/sqlite/docs/d_sq_locking.pdf"),
        fixtures::pdf(&["First page about rivers.", "Second page about valleys."]),
        fixtures::encrypted_pdf(),
        // Found by this test: pdf-extract indexes past a glyph-width table.
        read("tests/fuzz/corpus/regressions/pdf-extract-index-out-of-bounds.pdf"),
    ];
    fuzz(DocKind::Pdf, 1, seeds).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fuzz_docx() {
    let seeds = vec![
        read("benches/eval/sqlite/docs/d_sq_aggregate_functions.docx"),
        fixtures::docx(&[para(Some("Heading1"), "Title"), para(None, "Body text."), table(&[&["a", "b"]])].concat()),
    ];
    fuzz(DocKind::Docx, 2, seeds).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fuzz_pptx() {
    fuzz(DocKind::Pptx, 3, vec![read("benches/eval/sqlite/docs/d_sq_partial_indexes.pptx"), fixtures::pptx()]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fuzz_html_markdown_and_text() {
    let html = vec![read("tests/fuzz/corpus/notes.html")];
    fuzz(DocKind::Html, 4, html).await;
    fuzz(DocKind::Markdown, 5, vec![read("tests/fuzz/corpus/notes.md"), read("benches/eval/sqlite/docs/sq_upsert.md")])
        .await;
    fuzz(DocKind::Text, 6, vec![read("benches/eval/sqlite/docs/d_sq_autoincrement.txt")]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fuzz_subtitles() {
    fuzz(DocKind::Srt, 7, vec![read("tests/fuzz/corpus/lesson.srt")]).await;
    fuzz(DocKind::Vtt, 8, vec![read("tests/fuzz/corpus/lesson.vtt")]).await;
}
