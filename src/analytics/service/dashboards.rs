//! The dashboards: an overview of a class or of everyone the caller oversees, the students table, one student,
//! one tutor.

use std::collections::HashMap;

use uuid::Uuid;

use super::{AnalyticsService, Window, count, days, time};
use crate::analytics::entities::question;
use crate::analytics::error::AnalyticsError;
use crate::analytics::store::reads::{self, Range, Scope};
use crate::analytics::views::{
    AnsweredBy, DayCounts, DayMessages, DocumentCount, Named, Overview, Period, PersonaCount, PersonaDay,
    PersonaReport, PersonaTotals, QuestionRef, SessionRow, StudentReport, StudentRow, StudentTotals, Totals,
};
use crate::auth::{AuthUser, Role};
use crate::pagination::{Page, PageQuery};

const TOP: u64 = 10;
const LATEST_NOT_COVERED: u64 = 20;
const LATEST_SESSIONS: u64 = 20;

fn question_ref(q: question::Model) -> QuestionRef {
    QuestionRef {
        question: q.text,
        asked_at: time(q.at),
        persona_id: q.persona_id,
        session_id: q.session_id,
        student_id: q.user_id,
    }
}

fn median(sorted: &[i64]) -> Option<f64> {
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2] as f64),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0),
    }
}

impl AnalyticsService {
    pub async fn overview(&self, caller: &AuthUser, period: &Period) -> Result<Overview, AnalyticsError> {
        let scope = self.scope(caller, period.class_id).await?;
        let window = self.window(caller.org_id, period).await?;
        self.overview_of(&scope, &window, period.class_id).await
    }

    pub(super) async fn overview_of(
        &self,
        scope: &Scope,
        window: &Window,
        class_id: Option<Uuid>,
    ) -> Result<Overview, AnalyticsError> {
        let db = &self.backends.db;
        let range = &window.range;
        let (per_day, totals, personas, documents, median_ms, not_covered) = tokio::try_join!(
            reads::days(db, scope, range),
            reads::totals(db, scope, range),
            reads::personas(db, scope, range, TOP),
            reads::documents(db, scope, range, None, TOP),
            reads::median_session_ms(db, scope, range, None),
            reads::questions(db, scope, range, None, true, LATEST_NOT_COVERED),
        )?;
        let per_day: HashMap<String, (i64, i64, i64, i64)> =
            per_day.into_iter().map(|(day, a, m, s, n)| (day, (a, m, s, n))).collect();
        let [active, messages, sessions, answers, uncovered, flagged, _tokens] = totals;
        let persona_ids: Vec<Uuid> = personas.iter().map(|p| p.0).collect();
        let names = self.personas.names(scope.org_id, &persona_ids).await?;
        Ok(Overview {
            from: window.from,
            to: window.to,
            class_id,
            totals: Totals {
                active_students: count(active),
                messages: count(messages),
                sessions: count(sessions),
                answers: count(answers),
                questions_not_covered: count(uncovered),
                median_session_seconds: median_ms.map(|ms| ms as f64 / 1000.0),
                flagged: count(flagged),
            },
            days: days(window.from, window.to)
                .map(|day| {
                    let (a, m, s, n) = per_day.get(&day.to_string()).copied().unwrap_or_default();
                    DayCounts {
                        day,
                        active_students: count(a),
                        messages: count(m),
                        sessions: count(s),
                        not_covered: count(n),
                    }
                })
                .collect(),
            top_personas: personas
                .into_iter()
                .map(|(id, m, s, st)| PersonaCount {
                    id,
                    name: names.get(&id).cloned().unwrap_or_default(),
                    messages: count(m),
                    sessions: count(s),
                    students: count(st),
                })
                .collect(),
            top_documents: self.named_documents(scope.org_id, documents).await?,
            not_covered: not_covered.into_iter().map(question_ref).collect(),
        })
    }

    pub(super) async fn named_documents(
        &self,
        org_id: Uuid,
        counts: Vec<(Uuid, i64)>,
    ) -> Result<Vec<DocumentCount>, AnalyticsError> {
        let ids: Vec<Uuid> = counts.iter().map(|d| d.0).collect();
        let names = self.ingest.document_names(org_id, &ids).await?;
        Ok(counts
            .into_iter()
            .map(|(id, n)| DocumentCount { id, name: names.get(&id).cloned().unwrap_or_default(), citations: count(n) })
            .collect())
    }

    /// Every student in scope with their activity in the period, by name (students without activity included).
    pub async fn students(
        &self,
        caller: &AuthUser,
        period: &Period,
        page: &PageQuery,
    ) -> Result<Page<StudentRow>, AnalyticsError> {
        let scope = self.scope(caller, period.class_id).await?;
        let window = self.window(caller.org_id, period).await?;
        let rows = self.student_rows(&scope, &window.range).await?;
        let total = rows.len() as u64;
        let start = usize::try_from(page.index() * page.per_page()).unwrap_or(usize::MAX);
        let items = rows.into_iter().skip(start).take(usize::try_from(page.per_page()).unwrap_or(0)).collect();
        Ok(Page { items, page: page.page(), per_page: page.per_page(), total })
    }

    pub(super) async fn student_rows(&self, scope: &Scope, range: &Range) -> Result<Vec<StudentRow>, AnalyticsError> {
        let mut people = self.auth.with_role(scope.org_id, Role::Student).await?;
        if let Some(ids) = &scope.students {
            people.retain(|p| ids.contains(&p.id));
        }
        let db = &self.backends.db;
        let counts = reads::students(db, scope, range).await?;
        let ids: Vec<Uuid> = people.iter().map(|p| p.id).collect();
        let last = reads::last_active(db, scope.org_id, &ids).await?;
        Ok(people
            .into_iter()
            .map(|p| {
                let (m, s, n, d) = counts.get(&p.id).copied().unwrap_or_default();
                StudentRow {
                    id: p.id,
                    name: p.name,
                    messages: count(m),
                    sessions: count(s),
                    not_covered: count(n),
                    days_active: count(d),
                    last_active: last.get(&p.id).map(|ms| time(*ms)),
                }
            })
            .collect())
    }

    pub async fn student(&self, caller: &AuthUser, id: Uuid, period: &Period) -> Result<StudentReport, AnalyticsError> {
        let found = self.auth.people(caller.org_id, &[id]).await?;
        let Some((name, Role::Student)) = found.get(&id).cloned() else {
            return Err(AnalyticsError::NotFound("student"));
        };
        if !self.oversees(caller, id).await? {
            return Err(AnalyticsError::NotFound("student"));
        }
        let window = self.window(caller.org_id, period).await?;
        let scope = Scope { org_id: caller.org_id, students: Some(vec![id]) };
        let db = &self.backends.db;
        let range = &window.range;
        let today = super::day_of(chrono::Utc::now(), window.tz);
        let streak_from = (today - chrono::Duration::days(super::MAX_DAYS - 1)).to_string();
        let (today_s, one) = (today.to_string(), [id]);
        let (counts, per_day, all_days, documents, sessions, last) = tokio::try_join!(
            reads::students(db, &scope, range),
            reads::student_days(db, caller.org_id, id, &range.from, &range.to),
            reads::student_days(db, caller.org_id, id, &streak_from, &today_s),
            reads::documents(db, &scope, range, None, TOP),
            reads::student_sessions(db, caller.org_id, id, LATEST_SESSIONS),
            reads::last_active(db, caller.org_id, &one),
        )?;
        let (m, s, n, d) = counts.get(&id).copied().unwrap_or_default();
        let persona_ids: Vec<Uuid> = sessions.iter().map(|s| s.persona_id).collect();
        let names = self.personas.names(caller.org_id, &persona_ids).await?;
        let topics = self.topics(&scope, range).await?;
        Ok(StudentReport {
            student: Named { id, name },
            from: window.from,
            to: window.to,
            totals: StudentTotals {
                sessions: count(s),
                messages: count(m),
                not_covered: count(n),
                days_active: count(d),
            },
            streak_days: streak(&all_days, today),
            last_active: last.get(&id).map(|ms| time(*ms)),
            // Every day of the period, as the overview lists them: a chart of one active day is still a period.
            days: {
                let per_day: HashMap<String, i64> = per_day.into_iter().collect();
                days(window.from, window.to)
                    .map(|day| DayMessages {
                        day,
                        messages: count(per_day.get(&day.to_string()).copied().unwrap_or(0)),
                    })
                    .collect()
            },
            documents: self.named_documents(caller.org_id, documents).await?,
            topics,
            sessions: sessions
                .into_iter()
                .map(|s| SessionRow {
                    id: s.session_id,
                    persona_id: s.persona_id,
                    persona_name: names.get(&s.persona_id).cloned().unwrap_or_default(),
                    started_at: time(s.started_at),
                    last_at: time(s.last_at),
                    messages: count(s.messages),
                })
                .collect(),
        })
    }

    pub async fn persona(&self, caller: &AuthUser, id: Uuid, period: &Period) -> Result<PersonaReport, AnalyticsError> {
        let names = self.personas.names(caller.org_id, &[id]).await?;
        let name = names.get(&id).cloned().ok_or(AnalyticsError::NotFound("persona"))?;
        let scope = self.scope(caller, period.class_id).await?;
        let window = self.window(caller.org_id, period).await?;
        let db = &self.backends.db;
        let range = &window.range;
        let (totals, per_day, documents, not_covered, latencies, answered) = tokio::try_join!(
            reads::persona_totals(db, &scope, range, id),
            reads::persona_days(db, &scope, range, id),
            reads::documents(db, &scope, range, Some(id), TOP),
            reads::questions(db, &scope, range, Some(id), true, LATEST_NOT_COVERED),
            reads::latencies(db, &scope, range, id),
            reads::answered_by(db, &scope, range, id),
        )?;
        let (messages, sessions, students, answers, uncovered, tokens) = totals;
        let per_day: HashMap<String, (i64, i64)> = per_day.into_iter().map(|(d, m, s)| (d, (m, s))).collect();
        let mut by = AnsweredBy::default();
        for (how, n) in answered {
            match how.as_deref() {
                Some("model") => by.model += count(n),
                Some("extractive") => by.extractive += count(n),
                Some("not_covered") => by.not_covered += count(n),
                _ => {}
            }
        }
        Ok(PersonaReport {
            persona: Named { id, name },
            from: window.from,
            to: window.to,
            totals: PersonaTotals {
                sessions: count(sessions),
                messages: count(messages),
                students: count(students),
                answers: count(answers),
                not_covered: count(uncovered),
                median_latency_ms: median(&latencies),
                tokens: count(tokens),
            },
            answered_by: by,
            days: days(window.from, window.to)
                .map(|day| {
                    let (m, s) = per_day.get(&day.to_string()).copied().unwrap_or_default();
                    PersonaDay { day, messages: count(m), sessions: count(s) }
                })
                .collect(),
            top_documents: self.named_documents(caller.org_id, documents).await?,
            not_covered: not_covered.into_iter().map(question_ref).collect(),
        })
    }
}

/// Consecutive days with a message, ending today (or yesterday: today is not over).
fn streak(days: &[(String, i64)], today: chrono::NaiveDate) -> u64 {
    let active: std::collections::HashSet<chrono::NaiveDate> =
        days.iter().filter(|(_, n)| *n > 0).filter_map(|(d, _)| d.parse().ok()).collect();
    let mut day = if active.contains(&today) { today } else { today - chrono::Duration::days(1) };
    let mut n = 0;
    while active.contains(&day) {
        n += 1;
        day -= chrono::Duration::days(1);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streak_counts_back_from_today_or_yesterday() {
        let today: chrono::NaiveDate = "2026-11-28".parse().unwrap();
        let days = |list: &[&str]| list.iter().map(|d| ((*d).to_owned(), 1)).collect::<Vec<_>>();
        assert_eq!(streak(&days(&["2026-11-26", "2026-11-27", "2026-11-28"]), today), 3);
        assert_eq!(streak(&days(&["2026-11-26", "2026-11-27"]), today), 2);
        assert_eq!(streak(&days(&["2026-11-25", "2026-11-27"]), today), 1);
        assert_eq!(streak(&days(&["2026-11-20"]), today), 0);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_middle_pair_mean() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1, 3, 10]), Some(3.0));
        assert_eq!(median(&[1, 3, 5, 10]), Some(4.0));
    }
}
