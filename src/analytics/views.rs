//! The analytics domain's wire types.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The period and class a dashboard reads. Days are the org's (its time zone); both ends are included.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Period {
    /// First day, `YYYY-MM-DD`; default 27 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day; default today.
    pub to: Option<NaiveDate>,
    /// Only this class's students (a teacher: one of their classes). Absent: everyone the caller oversees.
    pub class_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    pub active_students: u64,
    pub messages: u64,
    pub sessions: u64,
    pub answers: u64,
    pub questions_not_covered: u64,
    /// Median from a session's first to its last message, over the sessions started in the period.
    pub median_session_seconds: Option<f64>,
    pub flagged: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DayCounts {
    pub day: NaiveDate,
    pub active_students: u64,
    pub messages: u64,
    pub sessions: u64,
    pub not_covered: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PersonaCount {
    pub id: Uuid,
    pub name: String,
    pub messages: u64,
    pub sessions: u64,
    pub students: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DocumentCount {
    pub id: Uuid,
    /// Empty when the document has been deleted since.
    pub name: String,
    pub citations: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuestionRef {
    pub question: String,
    pub asked_at: DateTime<Utc>,
    pub persona_id: Uuid,
    pub session_id: Uuid,
    pub student_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Overview {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub class_id: Option<Uuid>,
    pub totals: Totals,
    /// Every day of the period, days without activity included.
    pub days: Vec<DayCounts>,
    pub top_personas: Vec<PersonaCount>,
    pub top_documents: Vec<DocumentCount>,
    /// The latest questions the material did not cover.
    pub not_covered: Vec<QuestionRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StudentRow {
    pub id: Uuid,
    pub name: String,
    pub messages: u64,
    pub sessions: u64,
    pub not_covered: u64,
    pub days_active: u64,
    pub last_active: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Named {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StudentTotals {
    pub sessions: u64,
    pub messages: u64,
    pub not_covered: u64,
    pub days_active: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayMessages {
    pub day: NaiveDate,
    pub messages: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Topic {
    /// The question nearest the middle of the group.
    pub label: String,
    pub questions: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionRow {
    pub id: Uuid,
    pub persona_id: Uuid,
    pub persona_name: String,
    pub started_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub messages: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StudentReport {
    pub student: Named,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: StudentTotals,
    /// Consecutive days with a message, ending today or yesterday.
    pub streak_days: u64,
    pub last_active: Option<DateTime<Utc>>,
    /// Every day of the period, days without messages included.
    pub days: Vec<DayMessages>,
    pub documents: Vec<DocumentCount>,
    /// The student's questions grouped by meaning, largest first.
    pub topics: Vec<Topic>,
    /// Their latest sessions; each transcript is `GET /sessions/{id}/messages`.
    pub sessions: Vec<SessionRow>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonaTotals {
    pub sessions: u64,
    pub messages: u64,
    pub students: u64,
    pub answers: u64,
    pub not_covered: u64,
    pub median_latency_ms: Option<f64>,
    pub tokens: u64,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct AnsweredBy {
    pub model: u64,
    pub extractive: u64,
    pub not_covered: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonaDay {
    pub day: NaiveDate,
    pub messages: u64,
    pub sessions: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonaReport {
    pub persona: Named,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: PersonaTotals,
    pub answered_by: AnsweredBy,
    pub days: Vec<PersonaDay>,
    pub top_documents: Vec<DocumentCount>,
    pub not_covered: Vec<QuestionRef>,
}

/// Questions that mean the same thing, asked in the period.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuestionGroup {
    /// The question nearest the middle of the group.
    pub label: String,
    pub questions: u64,
    /// How many different students asked.
    pub students: u64,
    /// Answered from the material (by the model or the extractive tutor).
    pub answered: u64,
    pub not_covered: u64,
    /// Up to three of the questions, the label first.
    pub examples: Vec<String>,
    /// What the answers cited, most first.
    pub documents: Vec<DocumentCount>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Groups {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub groups: Vec<QuestionGroup>,
}

/// The client's own events (`POST /events`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientEvents {
    /// 1 to 20 events.
    pub events: Vec<ClientEvent>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientEvent {
    /// One of `page_viewed`, `citation_opened`, `answer_copied`, `answer_rated`, `avatar_loaded`,
    /// `avatar_failed`, `speech_played`.
    #[serde(rename = "type")]
    pub kind: String,
    pub session_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    /// Up to 1 KB of JSON object; `answer_rated` takes `{"rating": "up"|"down"}`.
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub accepted: usize,
}

/// An org's oversight settings. Admins change them; teachers may read them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OversightSettings {
    /// IANA name, e.g. `Africa/Kigali`: what a day and a week are in dashboards and reports.
    pub time_zone: String,
    /// `false`: teachers see aggregates only (no transcripts, no live watching); admins always may.
    pub teachers_see_transcripts: bool,
    /// Admins told of every high-severity flag (none designated: every admin).
    pub safety_admin_ids: Vec<Uuid>,
    /// Words and patterns that flag a student's message. At most 200.
    pub safety_terms: Vec<crate::config::SafetyTerm>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlagView {
    pub id: Uuid,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// `list` (the org's safety list) or `moderation` (the moderation endpoint).
    pub source: String,
    pub category: String,
    /// The start of the flagged message.
    pub excerpt: String,
    pub student: Named,
    pub session_id: Uuid,
    pub message_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// A safety flag as one person was told of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertView {
    pub id: Uuid,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub flag: FlagView,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertFilter {
    /// Only the alerts not yet read.
    #[serde(default)]
    pub unread: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertSummary {
    pub unread: u64,
}

/// One ISO week of a class or an org: engagement, every student, where they were stuck, what was not covered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WeeklyReport {
    pub org_id: Uuid,
    pub org_name: String,
    /// `YYYY-Www`.
    pub week: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub time_zone: String,
    pub generated_at: DateTime<Utc>,
    pub engagement: Overview,
    pub students: Vec<StudentRow>,
    pub stuck: Vec<QuestionGroup>,
    pub gaps: Vec<QuestionGroup>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// ISO week, `YYYY-Www`; default the last full week.
    pub week: Option<String>,
    pub class_id: Option<Uuid>,
    /// `json`, `csv` or `html`; default from the `Accept` header, else JSON.
    pub format: Option<String>,
}
