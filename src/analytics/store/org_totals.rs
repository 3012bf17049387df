//! Whole-org rollups without the student: session lengths as a histogram and citations per document, each per
//! day and tutor. An admin's overview of the whole org reads a few thousand of these rows; the per-student
//! rollups would make it group (or, for the median, sort) one row per student-day or per session, which at a
//! million events took ~350 ms. A class or a teacher's students still read the per-student rollups: a class is
//! small, and a student's activity cannot be taken out of an org-wide sum.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, LockType, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::writes::add;
use crate::analytics::entities::{document_total, session, session_length};
use crate::analytics::zones::day_of;

/// Lengths under this many seconds have a bucket of their own; longer ones share buckets 1% wide, so a median read
/// from buckets is exact to the second under two minutes and within half a percent above.
const EXACT_SECONDS: i64 = 120;
const GROWTH: f64 = 1.01;

/// The histogram bucket of a session `length_ms` long.
pub fn bucket(length_ms: i64) -> i32 {
    let seconds = Ord::max(length_ms, 0) / 1000;
    if seconds < EXACT_SECONDS {
        return i32::try_from(seconds).unwrap_or(0);
    }
    let steps = ((seconds as f64) / EXACT_SECONDS as f64).ln() / GROWTH.ln();
    // At most ~3,900 for any i64, so the cast cannot truncate.
    EXACT_SECONDS as i32 + steps.floor() as i32
}

/// The length a bucket stands for: its second, or the geometric middle of a wider bucket.
pub fn representative_ms(bucket: i32) -> i64 {
    if i64::from(bucket) < EXACT_SECONDS {
        return i64::from(bucket) * 1000;
    }
    let steps = f64::from(bucket) - EXACT_SECONDS as f64 + 0.5;
    (EXACT_SECONDS as f64 * GROWTH.powf(steps) * 1000.0).round() as i64
}

/// The median of a histogram sorted by bucket: the element at index `total / 2`, as the per-session read takes it.
pub fn median_ms(histogram: &[(i32, i64)]) -> Option<i64> {
    let total: i64 = histogram.iter().map(|(_, n)| n).sum();
    if total <= 0 {
        return None;
    }
    let target = total / 2;
    let mut seen = 0;
    for (bucket, n) in histogram {
        seen += n;
        if seen > target {
            return Some(representative_ms(*bucket));
        }
    }
    None
}

/// The org-wide median session length over `from..=to` (days), of one tutor or all.
pub async fn median_session_ms(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    (from, to): (&str, &str),
    persona_id: Option<Uuid>,
) -> Result<Option<i64>, DbErr> {
    use session_length::Column as C;
    let mut query = session_length::Entity::find()
        .filter(C::OrgId.eq(org_id))
        .filter(C::Day.between(from.to_owned(), to.to_owned()));
    if let Some(id) = persona_id {
        query = query.filter(C::PersonaId.eq(id));
    }
    let histogram: Vec<(i32, i64)> = query
        .select_only()
        .column(C::Bucket)
        .column_as(Expr::cust("CAST(COALESCE(SUM(sessions), 0) AS BIGINT)"), "sessions")
        .group_by(C::Bucket)
        .order_by_asc(C::Bucket)
        .into_tuple()
        .all(db)
        .await?;
    Ok(median_ms(&histogram))
}

/// The org-wide most-cited documents over `from..=to`: id, citations.
pub async fn documents(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    (from, to): (&str, &str),
    persona_id: Option<Uuid>,
    limit: u64,
) -> Result<Vec<(Uuid, i64)>, DbErr> {
    use document_total::Column as C;
    let mut query = document_total::Entity::find()
        .filter(C::OrgId.eq(org_id))
        .filter(C::Day.between(from.to_owned(), to.to_owned()));
    if let Some(id) = persona_id {
        query = query.filter(C::PersonaId.eq(id));
    }
    query
        .select_only()
        .column(C::DocumentId)
        .column_as(Expr::cust("CAST(COALESCE(SUM(citations), 0) AS BIGINT)"), "citations")
        .group_by(C::DocumentId)
        .order_by_desc(Expr::cust("citations"))
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Adds a batch's citations, keyed (org, day, student, tutor, document), to the org-wide totals.
pub(super) async fn add_citations(
    txn: &DatabaseTransaction,
    citations: &HashMap<(Uuid, String, Uuid, Uuid, Uuid), i64>,
) -> Result<(), DbErr> {
    let mut totals: HashMap<(Uuid, &str, Uuid, Uuid), i64> = HashMap::new();
    for ((org, day, _student, persona, document), n) in citations {
        *totals.entry((*org, day, *persona, *document)).or_default() += n;
    }
    let rows: Vec<document_total::ActiveModel> = totals
        .into_iter()
        .map(|((org_id, day, persona_id, document_id), citations)| document_total::ActiveModel {
            org_id: Set(org_id),
            day: Set(day.to_owned()),
            persona_id: Set(persona_id),
            document_id: Set(document_id),
            citations: Set(citations),
        })
        .collect();
    for rows in rows.chunks(super::writes::ROWS) {
        use document_total::Column as C;
        let conflict = OnConflict::columns([C::OrgId, C::Day, C::PersonaId, C::DocumentId])
            .values([(C::Citations, add("analytics_document_totals", C::Citations))])
            .to_owned();
        document_total::Entity::insert_many(rows.to_vec()).on_conflict(conflict).exec_without_returning(txn).await?;
    }
    Ok(())
}

/// A session the batch touched: its earliest and latest activity in the batch.
pub(super) struct Touched {
    pub id: Uuid,
    pub org_id: Uuid,
    pub persona_id: Uuid,
    pub first: i64,
    pub last: i64,
    /// The org's time zone, which decides the session's day (looked up before the transaction begins).
    pub zone: chrono_tz::Tz,
}

/// Moves each touched session to the bucket of its new length (out of its old one, if it was stored), before the
/// batch's sessions are written. The stored rows are read `FOR UPDATE` on PostgreSQL so that two replicas writing
/// the same session wait for each other instead of both moving it out of the same old bucket (SQLite has one
/// writer). Two replicas *creating* one session in the same instant could still both count it: a session is
/// created by the replica that started it, so that takes a client switching replicas within one flush.
pub(super) async fn move_session_lengths(txn: &DatabaseTransaction, touched: &[Touched]) -> Result<(), DbErr> {
    let mut deltas: HashMap<(Uuid, String, Uuid, i32), i64> = HashMap::new();
    for chunk in touched.chunks(super::writes::ROWS) {
        let stored: HashMap<Uuid, (i64, i64)> = session::Entity::find()
            .filter(session::Column::SessionId.is_in(chunk.iter().map(|t| t.id)))
            .select_only()
            .columns([session::Column::SessionId, session::Column::StartedAt, session::Column::LastAt])
            .lock(LockType::Update)
            .into_tuple::<(Uuid, i64, i64)>()
            .all(txn)
            .await?
            .into_iter()
            .map(|(id, started, last)| (id, (started, last)))
            .collect();
        for t in chunk {
            // The upsert keeps a stored session's start and takes the later of the two ends.
            let (started, new_last, old) = match stored.get(&t.id) {
                Some(&(started, last)) => (started, Ord::max(last, t.last), Some(bucket(last - started))),
                None => (t.first, t.last, None),
            };
            let new = bucket(new_last - started);
            if old == Some(new) {
                continue;
            }
            let millis = chrono::DateTime::from_timestamp_millis(started).unwrap_or_default();
            let day = day_of(millis, t.zone).to_string();
            if let Some(old) = old {
                *deltas.entry((t.org_id, day.clone(), t.persona_id, old)).or_default() -= 1;
            }
            *deltas.entry((t.org_id, day, t.persona_id, new)).or_default() += 1;
        }
    }
    let rows: Vec<session_length::ActiveModel> = deltas
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|((org_id, day, persona_id, bucket), sessions)| session_length::ActiveModel {
            org_id: Set(org_id),
            day: Set(day),
            persona_id: Set(persona_id),
            bucket: Set(bucket),
            sessions: Set(sessions),
        })
        .collect();
    for rows in rows.chunks(super::writes::ROWS) {
        use session_length::Column as C;
        let conflict = OnConflict::columns([C::OrgId, C::Day, C::PersonaId, C::Bucket])
            .values([(C::Sessions, add("analytics_session_lengths", C::Sessions))])
            .to_owned();
        session_length::Entity::insert_many(rows.to_vec()).on_conflict(conflict).exec_without_returning(txn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_sessions_are_exact_to_the_second() {
        for seconds in [0, 1, 59, 119] {
            assert_eq!(representative_ms(bucket(seconds * 1000 + 999)), seconds * 1000);
        }
    }

    #[test]
    fn long_sessions_are_within_one_percent() {
        for seconds in [120, 121, 600, 3_599, 86_400, 10_000_000] {
            let back = representative_ms(bucket(seconds * 1000)) as f64 / 1000.0;
            let error = (back - seconds as f64).abs() / seconds as f64;
            assert!(error <= 0.01, "{seconds} s came back as {back} s");
        }
        assert!(bucket(i64::MAX) > bucket(86_400_000));
        assert_eq!(bucket(-5), 0);
    }

    #[test]
    fn buckets_grow_with_length() {
        let mut last = -1;
        for seconds in (0..20_000).step_by(7) {
            let b = bucket(seconds * 1000);
            assert!(b >= last);
            last = b;
        }
    }

    #[test]
    fn the_migration_filled_the_same_buckets() {
        for seconds in (0..200_000).step_by(13) {
            assert_eq!(bucket(seconds * 1000 + 500), migration::session_length_bucket(seconds * 1000 + 500));
        }
    }

    #[test]
    fn the_median_is_the_middle_element() {
        assert_eq!(median_ms(&[]), None);
        assert_eq!(median_ms(&[(5, 0)]), None);
        // 1, 2, 2, 9: index 2 is 2.
        assert_eq!(median_ms(&[(1, 1), (2, 2), (9, 1)]), Some(2_000));
        // 1, 9, 9: index 1 is 9.
        assert_eq!(median_ms(&[(1, 1), (9, 2)]), Some(9_000));
    }
}
