//! The words of a query that the searched material never uses, and how much of the query's meaning rests on them.
//!
//! A question about something the material does not cover usually names it: "asyncio" asked of a Python tutorial
//! that never mentions it, "GRANT" asked of SQLite's documentation. Dense similarity cannot see that: the rest of
//! such a question is on topic, so its nearest chunk is as close as an answerable question's (measured on both
//! eval sets: the cosines overlap completely). Word presence can, but not alone: students also use everyday words
//! the material happens not to ("folder", "cleanup", "somebody"). What tells the two apart is how far the
//! question's embedding moves when those words are left out: little for a word that only colours the wording, a
//! lot for the thing the question is about.

use std::collections::HashSet;

use futures_util::future::try_join_all;

use crate::platform::vectors::{HybridQuery, VectorError, VectorFilter, VectorStore, bm25_query};

/// Distinct words checked per query; a long question's later words are taken as matched. Each is one sparse
/// lookup, so this bounds a search's cost whatever is pasted into it.
const MAX_WORDS: usize = 24;

/// The query's words (lowercase, distinct, in order) of which no point under `filter` holds the BM25 term, with
/// the material's own stemming ("folders" finds "folder"). Stopwords and other words BM25 ignores are never
/// unmatched.
pub async fn unmatched_words(
    vectors: &dyn VectorStore,
    filter: &VectorFilter,
    query: &str,
) -> Result<Vec<String>, VectorError> {
    let mut seen = HashSet::new();
    let candidates: Vec<(String, _)> = words(query)
        .map(str::to_lowercase)
        .filter(|w| seen.insert(w.clone()))
        .filter_map(|w| {
            let sparse = bm25_query(&w);
            (!sparse.indices.is_empty()).then_some((w, sparse))
        })
        .take(MAX_WORDS)
        .collect();
    let found = try_join_all(candidates.iter().map(|(_, sparse)| {
        let lookup = HybridQuery {
            filter: filter.clone(),
            dense: None,
            sparse: Some(sparse.clone()),
            limit: 1,
            prefetch_limit: 1,
        };
        async move { vectors.query(&lookup).await.map(|hits| !hits.is_empty()) }
    }))
    .await?;
    Ok(candidates.into_iter().zip(found).filter(|(_, found)| !found).map(|((word, _), _)| word).collect())
}

/// `query` without `unmatched` (compared lowercase), spaces tidied: what is left of the question once the words
/// the material never uses are taken out. Empty when nothing else was asked.
pub fn without(query: &str, unmatched: &[String]) -> String {
    let mut kept = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(start) = rest.find(|c: char| c.is_alphanumeric()) {
        let end = rest[start..].find(|c: char| !c.is_alphanumeric()).map_or(rest.len(), |e| start + e);
        kept.push_str(&rest[..start]);
        let word = &rest[start..end];
        if !unmatched.iter().any(|u| u == &word.to_lowercase()) {
            kept.push_str(word);
        }
        rest = &rest[end..];
    }
    kept.push_str(rest);
    let tidy = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    if tidy.chars().any(char::is_alphanumeric) { tidy } else { String::new() }
}

/// How much of the query's meaning rests on its unmatched words: 1 − the cosine similarity of the query's
/// embedding with that of the query without them (1 when nothing else is left).
pub fn weight(query: &[f32], remainder: Option<&[f32]>) -> f32 {
    let Some(remainder) = remainder else { return 1.0 };
    let dot: f32 = query.iter().zip(remainder).map(|(a, b)| a * b).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let cosine = dot / (norm(query) * norm(remainder)).max(f32::EPSILON);
    (1.0 - cosine).clamp(0.0, 2.0)
}

/// Runs of letters and digits.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_drops_every_occurrence_whatever_its_case_and_keeps_the_rest_as_written() {
        let unmatched = vec!["tkinter".to_owned(), "buttons".to_owned()];
        assert_eq!(
            without("How do I open a window with Buttons using tkinter? (Tkinter only)", &unmatched),
            "How do I open a window with using ? ( only)"
        );
        assert_eq!(without("tkinter buttons?", &unmatched), "", "nothing else was asked");
        assert_eq!(without("Qu'est-ce que « été » ?", &["été".to_owned()]), "Qu'est-ce que « » ?");
        assert_eq!(without("a sub-word like tkinterish stays", &unmatched), "a sub-word like tkinterish stays");
    }

    #[test]
    fn weight_is_how_far_the_embedding_moved() {
        assert!(weight(&[1.0, 0.0], Some(&[1.0, 0.0])).abs() < 1e-6);
        assert!((weight(&[1.0, 0.0], Some(&[0.0, 2.0])) - 1.0).abs() < 1e-6, "scale does not matter");
        assert!((weight(&[0.6, 0.8], Some(&[0.8, 0.6])) - 0.04).abs() < 1e-6);
        assert_eq!(weight(&[1.0, 0.0], None), 1.0);
    }
}
