//! Oversight settings, safety flags and alerts. Every student message is checked against the org's safety list
//! (and an OpenAI-compatible `/moderations` endpoint when configured) off the chat turn's path; a flag notifies the
//! student's class teachers in the app, and a high one also the org's designated admins, by mail too with SMTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use chrono_tz::Tz;
use regex::{Regex, RegexBuilder};
use secrecy::ExposeSecret;
use serde_json::json;
use uuid::Uuid;

use super::AnalyticsService;
use crate::analytics::entities::{flag, settings};
use crate::analytics::error::AnalyticsError;
use crate::analytics::recorder::Activity;
use crate::analytics::store::oversight as store;
use crate::analytics::views::{AlertSummary, AlertView, FlagView, Named, OversightSettings};
use crate::auth::{AuthUser, Role};
use crate::chat::views::ChatActivity;
use crate::classes::OversightPolicy;
use crate::config::SafetyTerm;
use crate::pagination::{Page, PageQuery};
use crate::platform::Backends;
use crate::platform::mail::Mail;

const TERMS_MAX: usize = 200;
const PATTERN_MAX: usize = 200;
const EXCERPT_CHARS: usize = 300;
const TTL: Duration = Duration::from_secs(60);
const SEVERITIES: [&str; 3] = ["low", "medium", "high"];

/// Each org's safety list, compiled, cached for a minute.
#[derive(Clone)]
pub struct SafetyLists {
    defaults: Vec<SafetyTerm>,
    cache: Arc<Mutex<Lists>>,
}

/// Each org's compiled list and when it was read.
type Lists = HashMap<Uuid, (Arc<Compiled>, Instant)>;

struct Compiled {
    terms: Vec<(Regex, SafetyTerm)>,
}

fn compile(term: &SafetyTerm) -> Result<Regex, regex::Error> {
    let source = match term.kind.as_str() {
        "regex" => term.pattern.clone(),
        // Whole words, any case, any run of spaces between them.
        _ => format!(r"\b{}\b", term.pattern.split_whitespace().map(regex::escape).collect::<Vec<_>>().join(r"\s+")),
    };
    RegexBuilder::new(&source).case_insensitive(true).size_limit(1 << 20).build()
}

impl SafetyLists {
    pub fn new(backends: &Backends) -> Self {
        Self { defaults: backends.config.safety.default_terms.clone(), cache: Arc::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lists> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn put(&self, org_id: Uuid, terms: &[SafetyTerm]) -> Arc<Compiled> {
        let compiled = Arc::new(Compiled {
            terms: terms.iter().filter_map(|t| compile(t).ok().map(|r| (r, t.clone()))).collect(),
        });
        self.lock().insert(org_id, (compiled.clone(), Instant::now()));
        compiled
    }
}

fn rank(severity: &str) -> usize {
    SEVERITIES.iter().position(|s| *s == severity).unwrap_or(0)
}

fn terms_of(row: &settings::Model) -> Vec<SafetyTerm> {
    serde_json::from_value(row.safety_terms.clone()).unwrap_or_default()
}

#[async_trait::async_trait]
impl OversightPolicy for AnalyticsService {
    async fn teachers_read_transcripts(&self, org_id: Uuid) -> anyhow::Result<bool> {
        Ok(store::settings(&self.backends.db, org_id).await?.is_none_or(|s| s.teachers_see_transcripts))
    }
}

impl AnalyticsService {
    fn settings_view(&self, row: Option<settings::Model>) -> OversightSettings {
        match row {
            Some(row) => OversightSettings {
                time_zone: row.time_zone.clone(),
                teachers_see_transcripts: row.teachers_see_transcripts,
                safety_admin_ids: serde_json::from_value(row.safety_admin_ids.clone()).unwrap_or_default(),
                safety_terms: terms_of(&row),
            },
            None => OversightSettings {
                time_zone: self.zones.default_zone().name().to_owned(),
                teachers_see_transcripts: true,
                safety_admin_ids: Vec::new(),
                safety_terms: self.lists.defaults.clone(),
            },
        }
    }

    pub async fn settings(&self, caller: &AuthUser) -> Result<OversightSettings, AnalyticsError> {
        Ok(self.settings_view(store::settings(&self.backends.db, caller.org_id).await?))
    }

    pub async fn update_settings(
        &self,
        caller: &AuthUser,
        body: OversightSettings,
    ) -> Result<OversightSettings, AnalyticsError> {
        let tz: Tz = body.time_zone.trim().parse().map_err(|_| {
            AnalyticsError::invalid("invalid_time_zone", format!("{:?} is not an IANA time zone", body.time_zone))
        })?;
        if body.safety_terms.len() > TERMS_MAX {
            return Err(AnalyticsError::invalid("invalid_safety_term", format!("at most {TERMS_MAX} terms")));
        }
        let mut terms = Vec::with_capacity(body.safety_terms.len());
        for mut term in body.safety_terms {
            term.pattern = term.pattern.trim().to_owned();
            let bad =
                |why: String| AnalyticsError::invalid("invalid_safety_term", format!("{:?}: {why}", term.pattern));
            if term.pattern.is_empty() || term.pattern.chars().count() > PATTERN_MAX {
                return Err(bad(format!("a pattern is 1 to {PATTERN_MAX} characters")));
            }
            if !matches!(term.kind.as_str(), "word" | "regex") {
                return Err(bad("kind is `word` or `regex`".into()));
            }
            if !SEVERITIES.contains(&term.severity.as_str()) {
                return Err(bad("severity is `low`, `medium` or `high`".into()));
            }
            term.category = term.category.trim().chars().take(64).collect();
            compile(&term).map_err(|err| bad(format!("not a valid pattern ({err})")))?;
            terms.push(term);
        }
        let mut admins = body.safety_admin_ids;
        admins.sort_unstable();
        admins.dedup();
        let people = self.auth.people(caller.org_id, &admins).await?;
        if let Some(id) = admins.iter().find(|id| !matches!(people.get(id), Some((_, Role::Admin)))) {
            return Err(AnalyticsError::invalid("unknown_user", format!("{id} is not an admin of this organisation")));
        }
        let row = settings::Model {
            org_id: caller.org_id,
            time_zone: tz.name().to_owned(),
            teachers_see_transcripts: body.teachers_see_transcripts,
            safety_admin_ids: json!(admins),
            safety_terms: json!(terms),
            updated_at: Utc::now(),
        };
        store::save_settings(&self.backends.db, row.clone()).await?;
        self.zones.set(caller.org_id, tz);
        self.lists.put(caller.org_id, &terms);
        Ok(self.settings_view(Some(row)))
    }

    async fn compiled(&self, org_id: Uuid) -> anyhow::Result<Arc<Compiled>> {
        if let Some((compiled, at)) = self.lists.lock().get(&org_id)
            && at.elapsed() < TTL
        {
            return Ok(compiled.clone());
        }
        let row = store::settings(&self.backends.db, org_id).await?;
        let terms = row.as_ref().map_or_else(|| self.lists.defaults.clone(), terms_of);
        Ok(self.lists.put(org_id, &terms))
    }

    /// Checks a student's message; called for every `MessageSent`, on a task of its own.
    pub async fn check_message(&self, message: &ChatActivity) {
        let ChatActivity::MessageSent { org_id, text, .. } = message else { return };
        let listed = match self.compiled(*org_id).await {
            Ok(list) => list
                .terms
                .iter()
                .filter(|(re, _)| re.is_match(text))
                .max_by_key(|(_, term)| rank(&term.severity))
                .map(|(_, term)| (term.severity.clone(), term.category.clone(), "list")),
            Err(err) => {
                tracing::warn!(error = ?err, "reading the org's safety list");
                None
            }
        };
        let moderated = match listed {
            Some(_) => None,
            None => self.moderate(text).await,
        };
        if let Some((severity, category, source)) = listed.or(moderated.map(|c| ("high".to_owned(), c, "moderation")))
            && let Err(err) = self.raise(message, &severity, &category, source).await
        {
            tracing::error!(error = ?err, "could not raise a safety flag");
        }
    }

    /// The first category the moderation endpoint flags, if one is configured and it flags the text.
    async fn moderate(&self, text: &str) -> Option<String> {
        let settings = &self.backends.config.safety;
        let base = settings.moderation_url.trim().trim_end_matches('/');
        if base.is_empty() {
            return None;
        }
        let mut request = reqwest::Client::new()
            .post(format!("{base}/moderations"))
            .timeout(Duration::from_secs(10))
            .json(&json!({ "model": settings.moderation_model, "input": text }));
        let key = settings.moderation_api_key.expose_secret();
        if !key.is_empty() {
            request = request.bearer_auth(key);
        }
        let answer: serde_json::Value = match request.send().await.and_then(reqwest::Response::error_for_status) {
            Ok(response) => response.json().await.ok()?,
            Err(err) => {
                tracing::warn!(error = %err, "the moderation endpoint failed; the safety list still applies");
                return None;
            }
        };
        let result = answer.get("results")?.get(0)?;
        if result.get("flagged").and_then(serde_json::Value::as_bool) != Some(true) {
            return None;
        }
        let categories = result.get("categories").and_then(serde_json::Value::as_object);
        let first =
            categories.and_then(|c| c.iter().find(|(_, on)| on.as_bool() == Some(true)).map(|(k, _)| k.clone()));
        Some(first.unwrap_or_else(|| "flagged".into()))
    }

    async fn raise(&self, message: &ChatActivity, severity: &str, category: &str, source: &str) -> anyhow::Result<()> {
        let ChatActivity::MessageSent { org_id, user_id, session_id, persona_id, message_id, text, at } = message
        else {
            return Ok(());
        };
        let mut recipients = self.classes.teachers_of(*org_id, *user_id).await?;
        let mut admins = Vec::new();
        if severity == "high" {
            let settings = self.settings_view(store::settings(&self.backends.db, *org_id).await?);
            admins = settings.safety_admin_ids;
            if admins.is_empty() {
                admins = self.auth.with_role(*org_id, Role::Admin).await?.into_iter().map(|p| p.id).collect();
            }
            recipients.extend(admins.iter().copied());
        }
        recipients.sort_unstable();
        recipients.dedup();
        let row = flag::Model {
            id: Uuid::now_v7(),
            org_id: *org_id,
            message_id: *message_id,
            session_id: *session_id,
            student_id: *user_id,
            severity: severity.to_owned(),
            source: source.to_owned(),
            category: category.to_owned(),
            excerpt: text.chars().take(EXCERPT_CHARS).collect(),
            created_at: Utc::now().timestamp_millis(),
        };
        store::insert_flag(&self.backends.db, row, &recipients).await?;
        tracing::info!(%org_id, severity, category, source, recipients = recipients.len(), "safety flag raised");
        self.recorder.record(Activity::Flagged {
            org_id: *org_id,
            user_id: *user_id,
            session_id: *session_id,
            persona_id: Some(*persona_id),
            severity: severity.to_owned(),
            at: *at,
        });
        if let Some(mailer) = &self.backends.mail
            && !admins.is_empty()
        {
            let to: Vec<(String, String)> = self
                .auth
                .contacts(*org_id, &admins)
                .await?
                .into_iter()
                .filter(|p| p.active)
                .map(|p| (p.name, p.email))
                .collect();
            let mail = Mail {
                subject: format!("Bwenge: a {severity}-severity safety alert ({category})"),
                text: format!(
                    "A student's message to a tutor was flagged ({category}, from the {source}).\n\n\
                     Open the alerts page in Bwenge to read it in its conversation: /alerts\n"
                ),
                html: None,
            };
            mailer.send(&to, &mail).await;
        }
        Ok(())
    }

    pub async fn alerts(
        &self,
        caller: &AuthUser,
        unread_only: bool,
        page: &PageQuery,
    ) -> Result<Page<AlertView>, AnalyticsError> {
        let db = &self.backends.db;
        let (rows, total) = store::notifications_page(db, caller.org_id, caller.user_id, unread_only, page).await?;
        let students: Vec<Uuid> = rows.iter().filter_map(|(_, f)| f.as_ref().map(|f| f.student_id)).collect();
        let names = self.auth.names(caller.org_id, &students).await?;
        let items = rows
            .into_iter()
            .filter_map(|(n, f)| {
                let f = f?;
                Some(AlertView {
                    id: n.id,
                    read_at: n.read_at.map(super::time),
                    created_at: super::time(n.created_at),
                    flag: FlagView {
                        id: f.id,
                        severity: f.severity,
                        source: f.source,
                        category: f.category,
                        excerpt: f.excerpt,
                        student: Named {
                            id: f.student_id,
                            name: names.get(&f.student_id).cloned().unwrap_or_default(),
                        },
                        session_id: f.session_id,
                        message_id: f.message_id,
                        created_at: super::time(f.created_at),
                    },
                })
            })
            .collect();
        Ok(Page { items, page: page.page(), per_page: page.per_page(), total })
    }

    pub async fn alert_summary(&self, caller: &AuthUser) -> Result<AlertSummary, AnalyticsError> {
        Ok(AlertSummary { unread: store::unread(&self.backends.db, caller.org_id, caller.user_id).await? })
    }

    /// Marks one alert (or, with `None`, all) of the caller read. Another person's alert is not found.
    pub async fn read_alert(&self, caller: &AuthUser, id: Option<Uuid>) -> Result<(), AnalyticsError> {
        let db = &self.backends.db;
        if let Some(id) = id
            && store::notification(db, caller.org_id, caller.user_id, id).await?.is_none()
        {
            return Err(AnalyticsError::NotFound("alert"));
        }
        store::mark_read(db, caller.org_id, caller.user_id, id, Utc::now().timestamp_millis()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(pattern: &str, kind: &str) -> SafetyTerm {
        SafetyTerm { pattern: pattern.into(), kind: kind.into(), severity: "high".into(), category: String::new() }
    }

    #[test]
    fn words_match_whole_and_in_any_case_and_spacing() {
        let re = compile(&term("hurt myself", "word")).unwrap();
        assert!(re.is_match("sometimes I want to HURT   myself."));
        assert!(!re.is_match("I hurt myselfish people"));
        let re = compile(&term("(gun|knife) at school", "regex")).unwrap();
        assert!(re.is_match("a knife at school"));
        assert!(compile(&term("(unclosed", "regex")).is_err());
    }
}
