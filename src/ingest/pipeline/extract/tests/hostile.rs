//! Hostile and broken inputs: every one must end in a typed error (or a partial result), never a crash or hang.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Write};
use std::time::Duration;

use super::super::fixtures::{self, para};
use super::super::*;
use super::limits;

#[test]
fn empty_inputs() {
    for kind in [DocKind::Pdf, DocKind::Docx, DocKind::Pptx, DocKind::Text, DocKind::Markdown, DocKind::Html] {
        assert_eq!(extract(kind, b"", &limits()).unwrap_err().code(), "empty_document");
    }
    assert_eq!(extract(DocKind::Text, b" \n\n\t ", &limits()).unwrap_err().code(), "empty_document");
    assert_eq!(
        extract(DocKind::Html, b"<html><script>x()</script></html>", &limits()).unwrap_err().code(),
        "empty_document"
    );
    let blank_pdf = fixtures::pdf(&["", ""]);
    assert_eq!(extract(DocKind::Pdf, &blank_pdf, &limits()).unwrap_err().code(), "empty_document");
    let blank_docx = fixtures::docx(&para(None, "   "));
    assert_eq!(extract(DocKind::Docx, &blank_docx, &limits()).unwrap_err().code(), "empty_document");
}

#[test]
fn content_beats_extension() {
    let pdf = fixtures::pdf(&["hello"]);
    assert_eq!(sniff(&pdf, Some("essay.docx")).unwrap(), DocKind::Pdf);
    let docx = fixtures::docx(&para(None, "x"));
    assert_eq!(sniff(&docx, Some("slides.pptx")).unwrap(), DocKind::Docx);
    assert_eq!(sniff(&docx[..8192.min(docx.len())], Some("a.docx")).unwrap(), DocKind::Docx);
    let plain_zip = fixtures::zip_of(&[("readme.txt", b"hi")]);
    assert_eq!(sniff(&plain_zip, Some("a.zip")).unwrap_err().code(), "unsupported_type");
}

#[test]
fn audio_and_video_need_transcription() {
    let mut wav = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00".to_vec();
    wav.resize(64, 0);
    let kind = sniff(&wav, Some("lecture.txt")).unwrap();
    assert_eq!(kind, DocKind::Audio);
    assert_eq!(extract(kind, &wav, &limits()).unwrap_err().code(), "needs_transcription");
    assert_eq!(extract(DocKind::Video, b"x", &limits()).unwrap_err().code(), "needs_transcription");
}

#[test]
fn encrypted_pdfs() {
    let bytes = fixtures::encrypted_pdf();
    assert_eq!(sniff(&bytes, None).unwrap(), DocKind::Pdf);
    assert_eq!(extract(DocKind::Pdf, &bytes, &limits()).unwrap_err().code(), "encrypted_pdf");
    // A security handler lopdf cannot even parse still reports as encrypted, not as damaged.
    let mut doc = fixtures::pdf_doc(1, |_| "x".to_owned());
    let bogus = doc.add_object(lopdf::dictionary! { "Filter" => "FancyVendorDRM", "V" => 99 });
    doc.trailer.set("Encrypt", bogus);
    let bytes = fixtures::save(&mut doc);
    assert_eq!(extract(DocKind::Pdf, &bytes, &limits()).unwrap_err().code(), "encrypted_pdf");
}

#[test]
fn junk_named_pdf_and_broken_pdf() {
    let junk: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect();
    assert_eq!(sniff(&junk, Some("paper.pdf")).unwrap_err().code(), "unsupported_type");
    assert_eq!(extract(DocKind::Pdf, b"%PDF-1.4\nnot really", &limits()).unwrap_err().code(), "unreadable_pdf");
}

#[test]
fn too_many_pages_is_refused_before_extraction() {
    let mut doc = fixtures::pdf_doc(3000, |i| format!("page {i}"));
    let bytes = fixtures::save(&mut doc);
    let started = std::time::Instant::now();
    let err = extract(DocKind::Pdf, &bytes, &limits()).unwrap_err();
    assert_eq!(err.code(), "too_many_pages");
    assert!(matches!(err, ExtractError::TooManyPages { pages: 3000, limit: 2000 }));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[test]
fn truncated_docx_is_corrupt() {
    let bytes = fixtures::docx(&para(None, "hello world"));
    let truncated = &bytes[..bytes.len() / 2];
    let kind = sniff(truncated, Some("notes.docx")).unwrap();
    assert_eq!(kind, DocKind::Docx);
    assert_eq!(extract(kind, truncated, &limits()).unwrap_err().code(), "corrupt_docx");
    let no_document = fixtures::zip_of(&[("word/styles.xml", b"<w:styles/>")]);
    assert_eq!(extract(DocKind::Docx, &no_document, &limits()).unwrap_err().code(), "corrupt_docx");
    assert_eq!(extract(DocKind::Pptx, &truncated[..100], &limits()).unwrap_err().code(), "corrupt_pptx");
}

/// 300 MB of XML that deflates to a few hundred KB, written in chunks so the test stays small in memory.
#[test]
fn docx_zip_bomb_by_declared_size() {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    writer.start_file("word/document.xml", options).unwrap();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..300 {
        writer.write_all(&chunk).unwrap();
    }
    let bytes = writer.finish().unwrap().into_inner();
    assert!(bytes.len() < 2 << 20, "fixture is {} bytes", bytes.len());
    let err = extract(DocKind::Docx, &bytes, &limits()).unwrap_err();
    assert_eq!(err.code(), "zip_bomb", "{err}");
}

/// Declared sizes are attacker-controlled: an entry that claims 1 KB but inflates to 1 MB is caught while reading.
#[test]
fn zip_bomb_with_lying_sizes() {
    let big = vec![b' '; 1 << 20];
    let xml = [b"<w:document>".as_slice(), &big, b"</w:document>"].concat();
    let mut bytes = fixtures::zip_of(&[("word/document.xml", &xml), ("ppt/slides/slide1.xml", &xml)]);
    let real = u32::try_from(xml.len()).unwrap().to_le_bytes();
    let fake = 1000u32.to_le_bytes();
    // Patch the uncompressed size in every local (offset 22) and central (offset 24) header.
    let mut i = 0;
    while i + 30 < bytes.len() {
        let offset = match &bytes[i..i + 4] {
            b"PK\x03\x04" => Some(22),
            b"PK\x01\x02" => Some(24),
            _ => None,
        };
        if let Some(o) = offset.filter(|o| bytes[i + o..i + o + 4] == real) {
            bytes[i + o..i + o + 4].copy_from_slice(&fake);
        }
        i += 1;
    }
    let err = extract(DocKind::Docx, &bytes, &limits()).unwrap_err();
    assert_eq!(err.code(), "zip_bomb", "{err}");
    assert_eq!(extract(DocKind::Pptx, &bytes, &limits()).unwrap_err().code(), "zip_bomb");
}

#[test]
fn zip_limits_on_entries_and_budget() {
    let bytes = fixtures::docx(&para(None, "hello"));
    let few_entries = Limits { max_zip_entries: 3, ..limits() };
    assert_eq!(extract(DocKind::Docx, &bytes, &few_entries).unwrap_err().code(), "zip_bomb");
    let tiny_budget = Limits { max_uncompressed_bytes: 500, ..limits() };
    assert_eq!(extract(DocKind::Docx, &bytes, &tiny_budget).unwrap_err().code(), "zip_bomb");
    assert_eq!(extract(DocKind::Pptx, &fixtures::pptx(), &tiny_budget).unwrap_err().code(), "zip_bomb");
}

/// docx-rs parses recursively; absurd nesting is refused before it can overflow the stack.
#[test]
fn deeply_nested_docx_is_refused() {
    let depth = 2000;
    let body = format!(
        "{}{}{}",
        "<w:tbl><w:tr><w:tc>".repeat(depth),
        para(None, "deep"),
        "</w:tc></w:tr></w:tbl>".repeat(depth)
    );
    let err = extract(DocKind::Docx, &fixtures::docx(&body), &limits()).unwrap_err();
    assert_eq!(err.code(), "corrupt_docx");
    // Nesting real documents use is fine.
    let body = format!(
        "{}{}{}",
        "<w:tbl><w:tr><w:tc>".repeat(5),
        para(None, "nested cell"),
        "</w:tc></w:tr></w:tbl>".repeat(5)
    );
    let out = extract(DocKind::Docx, &fixtures::docx(&body), &limits()).unwrap();
    assert!(out.sections[0].text.contains("nested cell"));
}

#[test]
fn binary_junk_named_txt() {
    let junk: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_246_822_519) >> 9) as u8).collect();
    assert_eq!(sniff(&junk, Some("notes.txt")).unwrap_err().code(), "not_text");
    assert_eq!(extract(DocKind::Text, &junk, &limits()).unwrap_err().code(), "not_text");
    assert_eq!(extract(DocKind::Markdown, &junk, &limits()).unwrap_err().code(), "not_text");
}

#[test]
fn text_budget_is_enforced() {
    let small = Limits { max_text_bytes: 1000, ..limits() };
    let text = "word ".repeat(1000);
    assert_eq!(extract(DocKind::Text, text.as_bytes(), &small).unwrap_err().code(), "text_too_large");
    let pdf = fixtures::pdf(&[&"x".repeat(600), &"y".repeat(600)]);
    assert_eq!(extract(DocKind::Pdf, &pdf, &small).unwrap_err().code(), "text_too_large");
}

#[test]
fn pdf_flate_bomb() {
    let mut doc = fixtures::pdf_doc(1, |_| "hi".to_owned());
    let mut stream = lopdf::Stream::new(lopdf::dictionary! {}, vec![b' '; 4 << 20]);
    stream.compress().unwrap();
    doc.add_object(stream);
    let bytes = fixtures::save(&mut doc);
    let tight = Limits { max_uncompressed_bytes: 1 << 20, ..limits() };
    assert_eq!(extract(DocKind::Pdf, &bytes, &tight).unwrap_err().code(), "zip_bomb");
    assert!(extract(DocKind::Pdf, &bytes, &limits()).is_ok());
}

/// A form XObject that invokes itself would recurse in pdf-extract until the stack overflows, aborting the
/// process. The page is skipped; the rest of the document still extracts.
#[test]
fn pdf_self_referencing_xobject_is_skipped() {
    let mut doc = fixtures::pdf_doc(2, |i| format!("page {}", i + 1));
    let form_id = doc.new_object_id();
    let form_resources = lopdf::dictionary! { "XObject" => lopdf::dictionary! { "Fm1" => form_id } };
    let form = lopdf::Stream::new(
        lopdf::dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()], "Resources" => form_resources },
        b"/Fm1 Do".to_vec(),
    );
    doc.objects.insert(form_id, lopdf::Object::Stream(form));
    let pages = doc.get_pages();
    let first = *pages.get(&1).unwrap();
    let page = doc.get_object_mut(first).unwrap().as_dict_mut().unwrap();
    page.set("Resources", lopdf::dictionary! { "XObject" => lopdf::dictionary! { "Fm1" => form_id } });
    let bytes = fixtures::save(&mut doc);
    let out = extract(DocKind::Pdf, &bytes, &limits()).unwrap();
    assert_eq!(out.sections.iter().map(|s| s.page).collect::<Vec<_>>(), vec![Some(2)]);
}

/// pdf-extract `expect`s a /MediaBox; without one it panics. One bad page costs that page only; if every page
/// panics the document fails as `extractor_crashed`, also through the async guard.
#[tokio::test]
async fn pdf_extract_panics_are_contained() {
    let mut doc = fixtures::pdf_doc(2, |i| format!("page {}", i + 1));
    let pages = doc.get_pages();
    let pages_id = doc.get_dictionary(pages[&1]).unwrap().get(b"Parent").unwrap().as_reference().unwrap();
    doc.get_dictionary_mut(pages_id).unwrap().remove(b"MediaBox");
    let media_box = vec![0.into(), 0.into(), 612.into(), 792.into()];
    doc.get_dictionary_mut(pages[&2]).unwrap().set("MediaBox", media_box);
    let partial = extract(DocKind::Pdf, &fixtures::save(&mut doc), &limits()).unwrap();
    assert_eq!(partial.sections.iter().map(|s| s.page).collect::<Vec<_>>(), vec![Some(2)]);

    doc.get_dictionary_mut(pages[&2]).unwrap().remove(b"MediaBox");
    let bytes = bytes::Bytes::from(fixtures::save(&mut doc));
    assert_eq!(extract(DocKind::Pdf, &bytes, &limits()).unwrap_err().code(), "extractor_crashed");
    let guarded = extract_guarded(DocKind::Pdf, bytes, limits(), Duration::from_secs(30), Default::default()).await;
    assert_eq!(guarded.unwrap_err().code(), "extractor_crashed");
}

/// Nesting just under the XML depth limit must parse on a thread with tokio's default 2 MiB blocking-pool stack:
/// the limit exists to keep docx-rs's recursion inside it.
#[test]
fn docx_nesting_at_the_limit_fits_the_blocking_pool_stack() {
    let levels = (ooxml::MAX_XML_DEPTH - 8) / 3;
    let open = "<w:tbl><w:tr><w:tc>".repeat(levels);
    let close = "</w:tc></w:tr></w:tbl>".repeat(levels);
    let bytes = fixtures::docx(&format!("{open}{}{close}", para(None, "bottom")));
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || extract(DocKind::Docx, &bytes, &limits()))
        .unwrap();
    assert_eq!(worker.join().unwrap().unwrap().sections[0].text, "bottom");
}

/// Deep nesting makes html5ever quadratic (and would be uninterruptible): refused by the linear pre-scan. Depth the
/// parser does get must not overflow the blocking pool's 2 MiB stack either.
#[test]
fn deeply_nested_html_is_refused_quickly() {
    let html = format!("{}deep text{}", "<div><span>".repeat(50_000), "</span></div>".repeat(50_000));
    let started = std::time::Instant::now();
    assert_eq!(extract(DocKind::Html, html.as_bytes(), &limits()).unwrap_err().code(), "unsupported_type");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());

    let html = format!("{}deep text{}", "<div><span>".repeat(1000), "</span></div>".repeat(1000));
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || extract(DocKind::Html, html.as_bytes(), &limits()))
        .unwrap();
    assert!(worker.join().unwrap().unwrap().sections[0].text.contains("deep text"));
}
