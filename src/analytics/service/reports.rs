//! Weekly reports. A job on the durable queue runs every hour (one job per hour however many replicas there are);
//! for each org whose local weekday and hour are the configured ones, it writes the report of the past ISO week
//! and, with SMTP, mails each class teacher the report of their own students. The report is also built on demand.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, Duration as Days, IsoWeek, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::json;
use uuid::Uuid;

use super::{AnalyticsService, Window, range};
use crate::analytics::entities::report;
use crate::analytics::error::AnalyticsError;
use crate::analytics::report as render;
use crate::analytics::store::oversight as store;
use crate::analytics::store::reads::Scope;
use crate::analytics::views::WeeklyReport;
use crate::analytics::zones::day_of;
use crate::auth::AuthUser;
use crate::platform::jobs::{Job, JobError, JobHandler, NewJob, now_ms};
use crate::platform::mail::Mail;

pub const REPORT_KIND: &str = "analytics.weekly_reports";
const HOUR_MS: i64 = 3_600_000;

/// `2026-W47` → its Monday and Sunday.
pub fn parse_week(week: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (year, number) = week.split_once("-W")?;
    let year: i32 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let monday = NaiveDate::from_isoywd_opt(year, number.parse().ok()?, Weekday::Mon)?;
    Some((monday, monday + Days::days(6)))
}

pub fn week_name(week: IsoWeek) -> String {
    format!("{}-W{:02}", week.year(), week.week())
}

/// The last full ISO week before `today`.
fn last_week(today: NaiveDate) -> String {
    week_name((today - Days::days(7)).iso_week())
}

impl AnalyticsService {
    /// The caller's report of `week` (default: last week) for `class_id` or everyone they oversee. An admin's
    /// whole-org report is the stored one when the job has written it.
    pub async fn weekly(
        &self,
        caller: &AuthUser,
        week: Option<&str>,
        class_id: Option<Uuid>,
    ) -> Result<WeeklyReport, AnalyticsError> {
        let scope = self.scope(caller, class_id).await?;
        let tz = self.zones.of(caller.org_id).await?;
        let week = match week {
            Some(week) => week.trim().to_owned(),
            None => last_week(day_of(Utc::now(), tz)),
        };
        if parse_week(&week).is_none() {
            return Err(AnalyticsError::invalid("invalid_week", format!("{week:?} is not an ISO week like 2026-W47")));
        }
        if scope.students.is_none()
            && let Some(stored) = store::report(&self.backends.db, caller.org_id, &week).await?
            && let Ok(report) = serde_json::from_value::<WeeklyReport>(stored.body)
        {
            return Ok(report);
        }
        self.build_report(&scope, &week, tz, class_id).await
    }

    async fn build_report(
        &self,
        scope: &Scope,
        week: &str,
        tz: Tz,
        class_id: Option<Uuid>,
    ) -> Result<WeeklyReport, AnalyticsError> {
        let (from, to) = parse_week(week).ok_or_else(|| AnalyticsError::invalid("invalid_week", week))?;
        let window = Window { from, to, range: range(from, to, tz), tz };
        let engagement = self.overview_of(scope, &window, class_id).await?;
        let students = self.student_rows(scope, &window.range).await?;
        let stuck = self.stuck_groups(scope, &window.range).await?;
        let gaps = self.gap_groups(scope, &window.range).await?;
        let org_name = self
            .auth
            .orgs()
            .await?
            .into_iter()
            .find(|(id, _)| *id == scope.org_id)
            .map(|(_, name)| name)
            .unwrap_or_default();
        Ok(WeeklyReport {
            org_id: scope.org_id,
            org_name,
            week: week.to_owned(),
            from,
            to,
            time_zone: tz.name().to_owned(),
            generated_at: Utc::now(),
            engagement,
            students,
            stuck,
            gaps,
        })
    }

    /// Writes `org_id`'s report of `week` and mails each class teacher theirs. Returns the stored report.
    pub async fn write_weekly_report(&self, org_id: Uuid, week: &str) -> Result<WeeklyReport, AnalyticsError> {
        let tz = self.zones.of(org_id).await?;
        let whole = self.build_report(&Scope { org_id, students: None }, week, tz, None).await?;
        let body = serde_json::to_value(&whole).map_err(anyhow::Error::from)?;
        let row = report::Model { org_id, week: week.to_owned(), generated_at: now_ms(), body };
        store::save_report(&self.backends.db, row).await?;
        tracing::info!(%org_id, week, "weekly report written");
        if let Some(mailer) = &self.backends.mail {
            let taught = self.classes.teachers_and_students(org_id).await?;
            let teachers: Vec<Uuid> = taught.keys().copied().collect();
            for person in self.auth.contacts(org_id, &teachers).await?.into_iter().filter(|p| p.active) {
                let students = taught.get(&person.id).cloned().unwrap_or_default();
                let mine = self.build_report(&Scope { org_id, students: Some(students) }, week, tz, None).await?;
                let mail = Mail {
                    subject: format!("Bwenge weekly report {week}: {}", whole.org_name),
                    text: render::text(&mine),
                    html: Some(render::html(&mine)),
                };
                mailer.send(&[(person.name, person.email)], &mail).await;
            }
        }
        Ok(whole)
    }

    /// One pass of the hourly job: every org whose local time is the configured weekday and hour, and whose report
    /// of last week is not written yet, gets it.
    pub async fn run_weekly_reports(&self) -> anyhow::Result<usize> {
        let settings = &self.backends.config.analytics;
        let weekday: Weekday = settings.report_weekday.parse().unwrap_or(Weekday::Mon);
        let mut written = 0;
        for (org_id, _) in self.auth.orgs().await? {
            let tz = self.zones.of(org_id).await?;
            let local = Utc::now().with_timezone(&tz);
            if local.weekday() != weekday || local.hour() != settings.report_hour {
                continue;
            }
            let week = last_week(local.date_naive());
            if store::report(&self.backends.db, org_id, &week).await?.is_some() {
                continue;
            }
            self.write_weekly_report(org_id, &week).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            written += 1;
        }
        Ok(written)
    }
}

/// The hourly job.
pub struct WeeklyJob(pub AnalyticsService);

#[async_trait::async_trait]
impl JobHandler for WeeklyJob {
    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        let written = self.0.run_weekly_reports().await.map_err(JobError::Retry)?;
        tracing::debug!(written, "weekly reports pass done");
        Ok(())
    }
}

/// Queues the reports pass at the start of every hour, for as long as the process runs; the dedupe key (the hour)
/// makes it one job per hour across replicas.
pub fn schedule(service: &AnalyticsService) {
    let jobs = service.backends.jobs.clone();
    let db = service.backends.db.clone();
    tokio::spawn(async move {
        loop {
            let next = now_ms() / HOUR_MS + 1;
            let job = NewJob {
                kind: REPORT_KIND.into(),
                payload: json!({}),
                org_id: None,
                dedupe_key: Some(format!("{REPORT_KIND}:{next}")),
            };
            let run_at = next * HOUR_MS;
            if let Err(err) = jobs.enqueue_in(&db, job, run_at).await {
                tracing::warn!(error = ?err, "could not schedule the weekly reports");
            }
            let wait = (run_at - now_ms()).max(1000);
            tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(1000))).await;
        }
    });
}

pub fn handler(service: &AnalyticsService) -> Arc<WeeklyJob> {
    Arc::new(WeeklyJob(service.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_are_iso_weeks() {
        let (monday, sunday) = parse_week("2026-W48").unwrap();
        assert_eq!((monday.to_string(), sunday.to_string()), ("2026-11-23".into(), "2026-11-29".into()));
        assert!(parse_week("2026-W54").is_none());
        assert!(parse_week("2026-48").is_none());
        assert_eq!(last_week("2026-11-28".parse().unwrap()), "2026-W47");
        assert_eq!(last_week("2027-01-04".parse().unwrap()), "2026-W53");
    }
}
