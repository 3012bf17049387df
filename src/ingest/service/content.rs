//! The document viewer's text: a document's chunks laid out by page, slide or part, one location at a time.

use uuid::Uuid;

use super::IngestService;
use crate::auth::AuthUser;
use crate::ingest::error::IngestError;
use crate::ingest::pipeline::passages;
use crate::ingest::store::{self, ChunkPlace};
use crate::ingest::views::{ContentPassage, ContentQuery, DocumentContent, DocumentView};

/// Passages per part of a document with no pages or slides: about two screens of text.
const PART_PASSAGES: usize = 20;

impl IngestService {
    /// One location of a document's extracted text (see [`ContentQuery`]). Whoever may read the document may
    /// read its text: every member of its org.
    pub async fn document_content(
        &self,
        caller: &AuthUser,
        id: Uuid,
        query: &ContentQuery,
    ) -> Result<DocumentContent, IngestError> {
        let doc = self.document(caller.org_id, id).await?;
        let db = &self.backends.db;
        let places = store::chunk_places(db, doc.org_id, doc.id).await?;
        let layout = Layout::of(&places);
        let location = layout.pick(&places, query)?;
        let ordinals: Vec<i32> = places
            .iter()
            .enumerate()
            .filter(|(i, p)| layout.location_of(*i, p) == location)
            .map(|(_, p)| p.ordinal)
            .collect();
        let chunks = match (ordinals.first(), ordinals.last()) {
            (Some(&from), Some(&to)) => store::chunk_range(db, doc.org_id, doc.id, from, to).await?,
            _ => Vec::new(),
        };
        let mut passages = Vec::with_capacity(chunks.len());
        let mut previous: Option<&str> = None;
        for chunk in chunks.iter().filter(|c| ordinals.binary_search(&c.ordinal).is_ok()) {
            let text = previous.map_or(chunk.text.as_str(), |p| passages::unshared(p, &chunk.text));
            previous = Some(&chunk.text);
            passages.push(ContentPassage {
                chunk_id: chunk.id,
                heading_path: chunk.heading_path.clone(),
                text: text.to_owned(),
                page: chunk.page,
                slide: chunk.slide,
                start_ms: chunk.start_ms,
                end_ms: chunk.end_ms,
            });
        }
        let focus = query.chunk_id.filter(|id| passages.iter().any(|p| p.chunk_id == *id));
        Ok(DocumentContent {
            document: DocumentView::from(doc),
            unit: layout.unit(),
            locations: layout.locations(places.len()),
            location,
            passages,
            focus,
        })
    }
}

/// How a document's text divides into locations: by the slides or pages its chunks carry, else in parts of
/// [`PART_PASSAGES`] chunks.
#[derive(Debug, Clone, PartialEq)]
enum Layout {
    Slides(Vec<i32>),
    Pages(Vec<i32>),
    Parts,
}

impl Layout {
    fn of(places: &[ChunkPlace]) -> Self {
        let distinct = |values: Vec<i32>| {
            let mut values = values;
            values.sort_unstable();
            values.dedup();
            values
        };
        let slides: Vec<i32> = places.iter().filter_map(|p| p.slide).collect();
        if !slides.is_empty() {
            return Self::Slides(distinct(slides));
        }
        let pages: Vec<i32> = places.iter().filter_map(|p| p.page).collect();
        if !pages.is_empty() {
            return Self::Pages(distinct(pages));
        }
        Self::Parts
    }

    fn unit(&self) -> &'static str {
        match self {
            Self::Slides(_) => "slide",
            Self::Pages(_) => "page",
            Self::Parts => "part",
        }
    }

    fn locations(&self, chunks: usize) -> Vec<i32> {
        match self {
            Self::Slides(all) | Self::Pages(all) => all.clone(),
            Self::Parts => (1..=i32::try_from(chunks.div_ceil(PART_PASSAGES)).unwrap_or(i32::MAX)).collect(),
        }
    }

    /// The location of the `index`-th chunk in reading order (0 for a chunk without one, which no location shows).
    fn location_of(&self, index: usize, place: &ChunkPlace) -> i32 {
        match self {
            Self::Slides(_) => place.slide.unwrap_or(0),
            Self::Pages(_) => place.page.unwrap_or(0),
            Self::Parts => i32::try_from(index / PART_PASSAGES + 1).unwrap_or(i32::MAX),
        }
    }

    fn pick(&self, places: &[ChunkPlace], query: &ContentQuery) -> Result<i32, IngestError> {
        let asked = [query.page.is_some(), query.slide.is_some(), query.part.is_some(), query.at_ms.is_some()];
        if asked.iter().filter(|a| **a).count() > 1 {
            return Err(IngestError::Invalid("give at most one of page, slide, part and at_ms".into()));
        }
        let locations = self.locations(places.len());
        if let Some(id) = query.chunk_id {
            let index = places.iter().position(|p| p.id == id).ok_or(IngestError::NotFound("chunk"))?;
            return Ok(self.location_of(index, &places[index]));
        }
        let wanted = match (self, query.page, query.slide, query.part, query.at_ms) {
            (Self::Pages(_), Some(n), ..) | (Self::Slides(_), _, Some(n), ..) | (Self::Parts, _, _, Some(n), _) => n,
            (Self::Parts, _, _, _, Some(at)) => {
                let index = places
                    .iter()
                    .position(|p| p.end_ms.is_some_and(|end| at < end))
                    .or_else(|| places.iter().rposition(|p| p.start_ms.is_some_and(|start| start <= at)))
                    .ok_or_else(|| IngestError::Invalid("this document has no timestamps".into()))?;
                return Ok(self.location_of(index, &places[index]));
            }
            (_, None, None, None, None) => return Ok(locations.first().copied().unwrap_or(0)),
            _ => return Err(IngestError::Invalid(format!("this document is read by {}", self.unit()))),
        };
        if locations.contains(&wanted) { Ok(wanted) } else { Err(IngestError::NotFound(self.unit())) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(ordinal: i32, page: Option<i32>, slide: Option<i32>, ms: Option<(i64, i64)>) -> ChunkPlace {
        ChunkPlace {
            id: Uuid::from_u128(ordinal as u128 + 1),
            ordinal,
            page,
            slide,
            start_ms: ms.map(|m| m.0),
            end_ms: ms.map(|m| m.1),
        }
    }

    #[test]
    fn pages_skip_those_without_text_and_refuse_other_units() {
        let places = [place(0, Some(1), None, None), place(1, Some(1), None, None), place(2, Some(3), None, None)];
        let layout = Layout::of(&places);
        assert_eq!(layout.locations(places.len()), vec![1, 3]);
        assert_eq!(layout.pick(&places, &ContentQuery::default()).unwrap(), 1);
        assert_eq!(layout.pick(&places, &ContentQuery { page: Some(3), ..Default::default() }).unwrap(), 3);
        assert!(matches!(
            layout.pick(&places, &ContentQuery { page: Some(2), ..Default::default() }),
            Err(IngestError::NotFound("page"))
        ));
        assert!(matches!(
            layout.pick(&places, &ContentQuery { slide: Some(1), ..Default::default() }),
            Err(IngestError::Invalid(_))
        ));
        let by_chunk = ContentQuery { chunk_id: Some(places[2].id), ..Default::default() };
        assert_eq!(layout.pick(&places, &by_chunk).unwrap(), 3);
    }

    #[test]
    fn text_without_places_reads_in_parts_and_timestamps_find_theirs() {
        let places: Vec<ChunkPlace> =
            (0..45).map(|i| place(i, None, None, Some((i64::from(i) * 1000, i64::from(i) * 1000 + 1000)))).collect();
        let layout = Layout::of(&places);
        assert_eq!(layout, Layout::Parts);
        assert_eq!(layout.locations(places.len()), vec![1, 2, 3]);
        assert_eq!(layout.pick(&places, &ContentQuery { at_ms: Some(20_500), ..Default::default() }).unwrap(), 2);
        assert_eq!(layout.pick(&places, &ContentQuery { at_ms: Some(999_999), ..Default::default() }).unwrap(), 3);
        assert!(matches!(
            layout.pick(&places, &ContentQuery { part: Some(1), page: Some(1), ..Default::default() }),
            Err(IngestError::Invalid(_))
        ));
    }

    #[test]
    fn an_empty_document_has_no_location() {
        assert_eq!(Layout::Parts.pick(&[], &ContentQuery::default()).unwrap(), 0);
        assert!(Layout::Parts.locations(0).is_empty());
    }
}
