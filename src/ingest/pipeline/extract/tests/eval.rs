//! The shared retrieval eval set (`../shared/eval`): real course documents with reference text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;

use super::super::*;
use super::limits;

fn tokens(text: &str) -> HashMap<String, usize> {
    let mut bag = HashMap::new();
    for token in text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()) {
        *bag.entry(token.to_lowercase()).or_insert(0) += 1;
    }
    bag
}

/// Bag-of-words recall: the share of the reference's word occurrences that also occur in the extraction.
fn overlap(reference: &str, extracted: &str) -> f64 {
    let (r, e) = (tokens(reference), tokens(extracted));
    let total: usize = r.values().sum();
    let hit: usize = r.iter().map(|(t, n)| (*n).min(e.get(t).copied().unwrap_or(0))).sum();
    if total == 0 { 1.0 } else { hit as f64 / total as f64 }
}

/// The shared retrieval eval set: every file must sniff to its extension's kind and extract ≥ 90% of the
/// reference text's words. Skipped when the folder is absent (e.g. a checkout without `shared/`).
#[test]
fn eval_set_documents_extract() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval/docs");
    let reference_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval/extracted");
    let Ok(entries) = std::fs::read_dir(&docs) else {
        eprintln!("eval set not found at {}; skipping", docs.display());
        return;
    };
    let mut names: Vec<_> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut failures = Vec::new();
    for name in &names {
        let bytes = std::fs::read(docs.join(name)).unwrap();
        let kind = sniff(&bytes, Some(name)).unwrap_or_else(|e| panic!("{name}: sniff failed: {e}"));
        // The ingest job may only pass the first 8 KiB, and the name alone must not be what decides.
        let prefix = &bytes[..bytes.len().min(8192)];
        assert_eq!(sniff(prefix, Some(name)).unwrap(), kind, "{name}: 8 KiB prefix");
        let expected = match name.rsplit('.').next() {
            Some("pdf") => DocKind::Pdf,
            Some("docx") => DocKind::Docx,
            Some("pptx") => DocKind::Pptx,
            Some("md") => DocKind::Markdown,
            _ => DocKind::Text,
        };
        assert_eq!(kind, expected, "{name}");
        if matches!(kind, DocKind::Pdf | DocKind::Docx | DocKind::Pptx) {
            assert_eq!(sniff(prefix, None).unwrap(), kind, "{name}: 8 KiB prefix without a name");
        }
        let out = extract(kind, &bytes, &limits()).unwrap_or_else(|e| panic!("{name}: extract failed: {e}"));
        assert!(!out.sections.is_empty(), "{name}: no sections");
        let text: Vec<&str> = out.sections.iter().map(|s| s.text.as_str()).collect();
        let reference = std::fs::read_to_string(reference_dir.join(format!("{name}.txt"))).unwrap_or_default();
        let score = overlap(&reference, &text.join("\n"));
        println!("eval overlap {name:40} {kind:?} sections={:<4} overlap={:.4}", out.sections.len(), score);
        if score < 0.9 {
            failures.push(format!("{name}: {score:.3}"));
        }
    }
    assert!(failures.is_empty(), "below 90% overlap: {failures:?}");
}
