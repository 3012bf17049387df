//! The analytics domain's API: who sees which students' activity (through the classes domain), the period a
//! dashboard reads in the org's days, and the parts in the files beside this one (dashboards, question groups,
//! safety and alerts, weekly reports, client events).

mod dashboards;
mod events;
mod groups;
mod reports;
mod safety;

use chrono::{Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use super::error::AnalyticsError;
use super::recorder::Recorder;
use super::store::reads::{Range, Scope};
use super::views::Period;
use super::zones::{Zones, day_of, start_of};
use crate::auth::{AuthService, AuthUser};
use crate::classes::ClassService;
use crate::ingest::IngestService;
use crate::persona::PersonaService;
use crate::platform::Backends;

pub use reports::{REPORT_KIND, handler as report_handler, parse_week, schedule as schedule_reports};
pub use safety::SafetyLists;

/// The longest period a dashboard reads.
const MAX_DAYS: i64 = 366;
/// The default period: four weeks up to today.
const DEFAULT_DAYS: i64 = 28;

#[derive(Clone)]
pub struct AnalyticsService {
    pub(super) backends: Backends,
    pub(super) auth: AuthService,
    pub(super) classes: ClassService,
    pub(super) personas: PersonaService,
    pub(super) ingest: IngestService,
    pub(super) recorder: Recorder,
    pub(super) zones: Zones,
    pub(super) lists: SafetyLists,
}

/// A dashboard's period, as the org counts days.
pub(super) struct Window {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub range: Range,
    pub tz: Tz,
}

impl AnalyticsService {
    pub fn new(
        backends: &Backends,
        auth: AuthService,
        classes: ClassService,
        personas: PersonaService,
        ingest: IngestService,
        recorder: Recorder,
        zones: Zones,
    ) -> Self {
        let lists = SafetyLists::new(backends);
        Self { backends: backends.clone(), auth, classes, personas, ingest, recorder, zones, lists }
    }

    /// Returns once every event recorded so far is stored (graceful shutdown; tests).
    pub async fn flush(&self) {
        self.recorder.flush().await;
    }

    /// Records `activity` as if a domain had emitted it (demo data, the load tool). Never waits.
    pub fn record(&self, activity: super::recorder::Activity) {
        self.recorder.record(activity);
    }

    /// Whose activity `caller` sees, narrowed to `class_id`.
    pub(super) async fn scope(&self, caller: &AuthUser, class_id: Option<Uuid>) -> Result<Scope, AnalyticsError> {
        let students = self.classes.overseen_students(caller, class_id).await?;
        Ok(Scope { org_id: caller.org_id, students })
    }

    /// Whether `caller` oversees `student` (a student of the org in their scope).
    pub(super) async fn oversees(&self, caller: &AuthUser, student: Uuid) -> Result<bool, AnalyticsError> {
        Ok(match self.classes.overseen_students(caller, None).await? {
            None => true,
            Some(ids) => ids.contains(&student),
        })
    }

    pub(super) async fn window(&self, org_id: Uuid, period: &Period) -> Result<Window, AnalyticsError> {
        let tz = self.zones.of(org_id).await?;
        // Date arithmetic panics at the ends of the calendar: keep to dates a school could mean.
        if [period.from, period.to].into_iter().flatten().any(|d| !(1970..=9999).contains(&d.year())) {
            return Err(AnalyticsError::invalid("invalid_period", "dates are between 1970 and 9999"));
        }
        let to = period.to.unwrap_or_else(|| day_of(Utc::now(), tz));
        let from = period.from.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
        if from > to {
            return Err(AnalyticsError::invalid("invalid_period", "`from` must not be after `to`"));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(AnalyticsError::invalid("invalid_period", format!("a period is at most {MAX_DAYS} days")));
        }
        Ok(Window { from, to, range: range(from, to, tz), tz })
    }
}

pub(super) fn range(from: NaiveDate, to: NaiveDate, tz: Tz) -> Range {
    Range {
        from: from.to_string(),
        to: to.to_string(),
        start_ms: start_of(from, tz).timestamp_millis(),
        end_ms: start_of(to + Duration::days(1), tz).timestamp_millis(),
    }
}

/// Every day from `from` to `to`.
pub(super) fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

pub(super) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) fn time(ms: i64) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
