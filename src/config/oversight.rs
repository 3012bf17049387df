//! The settings of analytics, safety flags and outgoing mail; see `[analytics]`, `[safety]` and `[smtp]` in
//! config/default.toml.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Dashboards, grouping and the weekly report; see `[analytics]` in config/default.toml.
#[derive(Debug, Clone, Deserialize)]
pub struct AnalyticsSettings {
    /// `false`: no events are recorded and no message is checked for safety (the chat benchmark's baseline).
    pub record: bool,
    pub default_time_zone: String,
    /// `mon` to `sun`.
    pub report_weekday: String,
    pub report_hour: u32,
    pub client_events_per_minute: u32,
    pub max_grouped_questions: usize,
    pub group_similarity: f32,
    pub group_similarity_lexical: f32,
}

/// Safety flags; see `[safety]` in config/default.toml.
#[derive(Debug, Clone, Deserialize)]
pub struct SafetySettings {
    pub moderation_url: String,
    pub moderation_api_key: SecretString,
    pub moderation_model: String,
    pub default_terms: Vec<SafetyTerm>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SafetyTerm {
    /// Words matched whole and case-insensitively (`word`), or a regular expression (`regex`).
    pub pattern: String,
    #[serde(default = "word")]
    pub kind: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    #[serde(default)]
    pub category: String,
}

fn word() -> String {
    "word".into()
}

/// Outgoing mail; see `[smtp]` in config/default.toml.
#[derive(Debug, Clone, Deserialize)]
pub struct SmtpSettings {
    pub url: SecretString,
    pub from: String,
}
