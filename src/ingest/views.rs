//! What the knowledge routes take and send: collections, documents and their progress, search.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::entities::document;
use crate::platform::events::Event;

/// The status of a document whose deletion has begun: its job stops and writes nothing more.
pub const DELETING: &str = "deleting";
/// Longest collection name, in characters after trimming.
pub const COLLECTION_NAME_MAX: usize = 200;
/// Longest collection description, in characters after trimming.
pub const COLLECTION_DESCRIPTION_MAX: usize = 2000;
/// Longest search query, in characters after trimming.
pub const QUERY_MAX: usize = 2000;
/// Most collections one search may name.
pub const SEARCH_COLLECTIONS_MAX: usize = 100;
/// Most passages one search returns.
pub const TOP_K_MAX: usize = 50;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Biology, year 2", "description": "Cells, photosynthesis, genetics"}))]
pub struct CreateCollection {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateCollection {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub document_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `multipart/form-data` with one file.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the multipart body; the handler streams the field instead of parsing it whole
pub struct UploadForm {
    /// PDF, DOCX, PPTX, TXT, Markdown, HTML, SRT/VTT, audio or video. The type is sniffed from the bytes.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub id: Uuid,
    pub collection_id: Uuid,
    pub name: String,
    /// What the bytes are (`pdf`, `docx`, ...), once sniffed.
    pub kind: Option<String>,
    pub size_bytes: i64,
    /// `queued` → `processing` → `ready` | `failed`; `deleting` while a deletion runs.
    pub status: String,
    /// While processing: `reading`, `extracting`, `transcribing` (audio, video), `chunking`, `indexing`.
    pub stage: Option<String>,
    /// 0 to 100.
    pub progress: i16,
    pub chunk_count: i32,
    /// Stable, when `failed`: e.g. `encrypted_pdf`, `zip_bomb`, `not_text`, `transcription_unavailable`,
    /// `no_audio_track`, `transcription_failed`.
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<document::Model> for DocumentView {
    fn from(d: document::Model) -> Self {
        Self {
            id: d.id,
            collection_id: d.collection_id,
            name: d.name,
            kind: d.kind,
            size_bytes: d.size_bytes,
            status: d.status,
            stage: d.stage,
            progress: d.progress,
            chunk_count: d.chunk_count,
            error_code: d.error_code,
            error: d.error_message,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A document's state as it changes: the SSE `document` event, and the chat WebSocket's `document.progress`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DocumentEvent {
    pub id: Uuid,
    /// `queued`, `processing`, `ready` or `failed`.
    pub status: String,
    pub stage: Option<String>,
    pub progress: i16,
    pub chunk_count: i32,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

impl DocumentEvent {
    pub fn finished(&self) -> bool {
        matches!(self.status.as_str(), "ready" | "failed")
    }
}

impl From<&document::Model> for DocumentEvent {
    fn from(doc: &document::Model) -> Self {
        Self {
            id: doc.id,
            status: doc.status.clone(),
            stage: doc.stage.clone(),
            progress: doc.progress,
            chunk_count: doc.chunk_count,
            error_code: doc.error_code.clone(),
            error_message: doc.error_message.clone(),
        }
    }
}

/// One Server-Sent Event of `GET /documents/{id}/events`, as a client's SSE parser sees it.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the stream; the handler writes the lines itself
pub struct DocumentSse {
    #[schema(example = "document")]
    pub event: String,
    /// A `DocumentEvent`, as JSON.
    pub data: String,
}

/// Every document's events with their uploader, on one topic: a replica subscribes once for all its WebSocket
/// connections rather than once per connection or document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentProgress {
    pub uploaded_by: Uuid,
    pub event: DocumentEvent,
}

impl Event for DocumentProgress {
    const TOPIC: &'static str = "document-uploads";
}

/// A document's processing ended (in this process; analytics counts it once, see `platform::events`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentFinished {
    pub org_id: Uuid,
    pub document_id: Uuid,
    pub uploaded_by: Uuid,
    /// `ready` or `failed`.
    pub status: String,
    pub chunk_count: i32,
    pub error_code: Option<String>,
}

impl Event for DocumentFinished {
    const TOPIC: &'static str = "document-finished";
}

impl From<&document::Model> for DocumentFinished {
    fn from(doc: &document::Model) -> Self {
        Self {
            org_id: doc.org_id,
            document_id: doc.id,
            uploaded_by: doc.uploaded_by,
            status: doc.status.clone(),
            chunk_count: doc.chunk_count,
            error_code: doc.error_code.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"query": "What does the light reaction of photosynthesis produce?", "top_k": 5}))]
pub struct SearchRequest {
    #[schema(min_length = 1, max_length = 2000)]
    pub query: String,
    /// Empty or absent: every collection of the caller's org.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub collection_ids: Vec<Uuid>,
    /// Default 5.
    #[schema(minimum = 1, maximum = 50)]
    pub top_k: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    pub chunk_id: Uuid,
    pub document_id: Uuid,
    pub document_name: String,
    pub collection_id: Uuid,
    /// The matched chunk joined with up to two neighbours either side in the same section (overlap removed).
    pub text: String,
    /// Ranking score (a document's later hits lowered a little): higher is better; comparable within one answer
    /// only. In `hybrid` mode the mean of the BM25 and dense scores, each scaled to 0..1 over the candidates,
    /// plus a tenth of the better neighbouring chunk's (at most 1.1); in `sparse` mode the rank's 1/(2 + rank) (at
    /// most 1/3).
    pub score: f32,
    /// How well the hit matches the query in absolute terms: the cosine similarity (-1 to 1) between the query's
    /// embedding and the best of the chunk's vectors (the chunk, or one of its sentence windows). Comparable
    /// across queries, unlike `score`. Absent in `sparse` mode, or when the chunk was found by keywords only.
    pub relevance: Option<f32>,
    pub page: Option<i32>,
    pub slide: Option<i32>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub heading_path: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub results: Vec<SearchHit>,
    /// `hybrid`, or `sparse` when no embedding model is available.
    pub mode: &'static str,
    /// The best `relevance` of anything in the searched collections, whether or not it made the results (the
    /// query's nearest vector): how well the material matches the query at all. Absent in `sparse` mode.
    pub relevance: Option<f32>,
    /// Words of the query that nothing in the searched collections contains, lowercase (compared after stemming,
    /// so "folders" matches "folder"; stopwords never count).
    pub unmatched: Vec<String>,
    /// How much of the query's meaning rests on `unmatched`: 1 − the cosine similarity between the query's
    /// embedding and that of the query without those words; 0 when there are none, 1 when nothing else is left.
    /// High when the query is about something the material never names. Absent in `sparse` mode.
    pub unmatched_weight: Option<f32>,
}

/// Which part of a document to show. At most one of `page`, `slide`, `part`, `at_ms`; `chunk_id` picks the part
/// that holds that chunk and marks it as the focus. None: the first part.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentQuery {
    /// A PDF's page, from 1.
    #[param(minimum = 1)]
    pub page: Option<i32>,
    /// A presentation's slide, from 1.
    #[param(minimum = 1)]
    pub slide: Option<i32>,
    /// A part of a document with no pages or slides (text, transcripts), from 1.
    #[param(minimum = 1)]
    pub part: Option<i32>,
    /// A moment of an audio or video recording, in milliseconds: the part that holds it.
    #[param(minimum = 0)]
    pub at_ms: Option<i64>,
    /// A chunk (a citation's `chunk_id`): the part that holds it, with the chunk as `focus`.
    pub chunk_id: Option<Uuid>,
}

/// One part of a document's extracted text, as the viewer shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentContent {
    pub document: DocumentView,
    /// What `location` counts: `page` (PDF), `slide` (presentations) or `part` (text, transcripts: a run of
    /// passages).
    pub unit: &'static str,
    /// Every location that has text, in order (a PDF page with no text is left out).
    pub locations: Vec<i32>,
    /// The location shown; 0 when the document has no text yet.
    pub location: i32,
    /// The passages at `location`, in reading order, each without the words it repeats from the one before.
    pub passages: Vec<ContentPassage>,
    /// The chunk asked for by `chunk_id`, when it exists.
    pub focus: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContentPassage {
    pub chunk_id: Uuid,
    pub heading_path: String,
    pub text: String,
    pub page: Option<i32>,
    pub slide: Option<i32>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}
