//! Each org's time zone, which decides what "a day" and "a week" are in its dashboards and reports. Read from its
//! oversight settings and cached for a minute (another replica's change shows within that).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

use super::entities::settings;

const TTL: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Zones {
    db: DatabaseConnection,
    default: Tz,
    cache: Arc<Mutex<HashMap<Uuid, (Tz, Instant)>>>,
}

impl Zones {
    pub fn new(db: DatabaseConnection, default: Tz) -> Self {
        Self { db, default, cache: Arc::default() }
    }

    pub fn default_zone(&self) -> Tz {
        self.default
    }

    pub async fn of(&self, org_id: Uuid) -> anyhow::Result<Tz> {
        if let Some((tz, at)) = self.lock().get(&org_id)
            && at.elapsed() < TTL
        {
            return Ok(*tz);
        }
        let stored = settings::Entity::find_by_id(org_id).one(&self.db).await?;
        let tz = stored.and_then(|s| s.time_zone.parse::<Tz>().ok()).unwrap_or(self.default);
        self.lock().insert(org_id, (tz, Instant::now()));
        Ok(tz)
    }

    /// This replica's change shows at once.
    pub fn set(&self, org_id: Uuid, tz: Tz) {
        self.lock().insert(org_id, (tz, Instant::now()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Tz, Instant)>> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The org-local day of `at`.
pub fn day_of(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// The instant `day` begins in `tz` (the earliest, across a DST gap).
pub fn start_of(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        // Midnight skipped by a DST change: the day starts an hour later.
        chrono::LocalResult::None => tz
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

#[async_trait::async_trait]
impl crate::billing::OrgCalendar for Zones {
    async fn zone(&self, org_id: Uuid) -> anyhow::Result<Tz> {
        self.of(org_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_the_orgs() {
        let tz: Tz = "Pacific/Auckland".parse().unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-27T20:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(day_of(at, tz).to_string(), "2026-11-28");
        assert_eq!(day_of(at, Tz::UTC).to_string(), "2026-11-27");
        let start = start_of(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(), tz);
        assert_eq!(start.to_rfc3339(), "2026-11-27T11:00:00+00:00");
    }
}
