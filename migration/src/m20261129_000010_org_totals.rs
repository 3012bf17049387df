//! Whole-org analytics rollups without the student, so an admin's overview reads a few thousand rows at any
//! history: session lengths as a histogram per day, tutor and length bucket, and citations per day, tutor and
//! document, both filled from what is already recorded; and an index for its latest questions not covered.

use std::collections::HashMap;

use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A frozen copy of `analytics::store::org_totals::bucket` (a migration must not change when the app does; a test
/// in the app checks the two agree): whole seconds under two minutes, then buckets 1% wide.
pub fn bucket(length_ms: i64) -> i32 {
    const EXACT_SECONDS: i64 = 120;
    let seconds = Ord::max(length_ms, 0) / 1000;
    if seconds < EXACT_SECONDS {
        return <i32 as TryFrom<i64>>::try_from(seconds).unwrap_or(0);
    }
    EXACT_SECONDS as i32 + ((seconds as f64 / EXACT_SECONDS as f64).ln() / 1.01_f64.ln()).floor() as i32
}

const PAGE: u64 = 5_000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Lengths::Table)
                    .if_not_exists()
                    .col(uuid(Lengths::OrgId))
                    .col(string_len(Lengths::Day, 10))
                    .col(uuid(Lengths::PersonaId))
                    .col(integer(Lengths::Bucket))
                    .col(big_integer(Lengths::Sessions).default(0))
                    .primary_key(
                        Index::create()
                            .col(Lengths::OrgId)
                            .col(Lengths::Day)
                            .col(Lengths::PersonaId)
                            .col(Lengths::Bucket),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Totals::Table)
                    .if_not_exists()
                    .col(uuid(Totals::OrgId))
                    .col(string_len(Totals::Day, 10))
                    .col(uuid(Totals::PersonaId))
                    .col(uuid(Totals::DocumentId))
                    .col(big_integer(Totals::Citations).default(0))
                    .primary_key(
                        Index::create()
                            .col(Totals::OrgId)
                            .col(Totals::Day)
                            .col(Totals::PersonaId)
                            .col(Totals::DocumentId),
                    )
                    .to_owned(),
            )
            .await?;
        // The overview's latest questions not covered: newest first among the org's `not_covered` answers. With the
        // org-and-time index alone, PostgreSQL (its statistics not yet updated after a burst of writes) sorted every
        // question of the period: 380 ms at 400k questions, 0.4 ms with this one.
        manager
            .create_index(
                Index::create()
                    .name("idx_analytics_questions_answered")
                    .table(Questions::Table)
                    .col(Questions::OrgId)
                    .col(Questions::AnsweredBy)
                    .col(Questions::At)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO analytics_document_totals (org_id, day, persona_id, document_id, citations) \
             SELECT org_id, day, persona_id, document_id, SUM(citations) FROM analytics_document_daily \
             GROUP BY org_id, day, persona_id, document_id",
        )
        .await?;
        backfill_lengths(db).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_analytics_questions_answered").table(Questions::Table).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(Totals::Table).if_exists().to_owned()).await?;
        manager.drop_table(Table::drop().table(Lengths::Table).if_exists().to_owned()).await
    }
}

/// Every recorded session into its bucket, on the day it started in its org's time zone (UTC for an org that never
/// chose one: the server's configured default is not known to a migration).
async fn backfill_lengths(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let zones: HashMap<Uuid, chrono_tz::Tz> = db
        .query_all_raw(Statement::from_string(backend, "SELECT org_id, time_zone FROM analytics_settings"))
        .await?
        .into_iter()
        .filter_map(|row| {
            let org: Uuid = row.try_get("", "org_id").ok()?;
            let zone: String = row.try_get("", "time_zone").ok()?;
            Some((org, zone.parse().ok()?))
        })
        .collect();
    let mut counts: HashMap<(Uuid, String, Uuid, i32), i64> = HashMap::new();
    let mut after: Option<Uuid> = None;
    loop {
        let mut select = Query::select();
        select
            .columns([Sessions::SessionId, Sessions::OrgId, Sessions::PersonaId, Sessions::StartedAt, Sessions::LastAt])
            .from(Sessions::Table)
            .order_by(Sessions::SessionId, Order::Asc)
            .limit(PAGE);
        if let Some(after) = after {
            select.and_where(Expr::col(Sessions::SessionId).gt(after));
        }
        let rows = db.query_all(&select).await?;
        for row in &rows {
            let id: Uuid = row.try_get("", "session_id")?;
            let org: Uuid = row.try_get("", "org_id")?;
            let persona: Uuid = row.try_get("", "persona_id")?;
            let started: i64 = row.try_get("", "started_at")?;
            let last: i64 = row.try_get("", "last_at")?;
            let zone = zones.get(&org).copied().unwrap_or(chrono_tz::UTC);
            let at = chrono::DateTime::from_timestamp_millis(started).unwrap_or_default();
            let day = at.with_timezone(&zone).date_naive().to_string();
            *counts.entry((org, day, persona, bucket(last - started))).or_default() += 1;
            after = Some(id);
        }
        if (rows.len() as u64) < PAGE {
            break;
        }
    }
    let rows: Vec<_> = counts.into_iter().collect();
    for chunk in rows.chunks(1000) {
        let mut insert = Query::insert();
        insert.into_table(Lengths::Table).columns([
            Lengths::OrgId,
            Lengths::Day,
            Lengths::PersonaId,
            Lengths::Bucket,
            Lengths::Sessions,
        ]);
        for ((org, day, persona, bucket), n) in chunk {
            insert.values_panic([(*org).into(), day.clone().into(), (*persona).into(), (*bucket).into(), (*n).into()]);
        }
        db.execute(&insert).await?;
    }
    Ok(())
}

#[derive(DeriveIden, Clone, Copy)]
enum Lengths {
    #[sea_orm(iden = "analytics_session_lengths")]
    Table,
    OrgId,
    Day,
    PersonaId,
    Bucket,
    Sessions,
}

#[derive(DeriveIden, Clone, Copy)]
enum Totals {
    #[sea_orm(iden = "analytics_document_totals")]
    Table,
    OrgId,
    Day,
    PersonaId,
    DocumentId,
    Citations,
}

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    #[sea_orm(iden = "analytics_sessions")]
    Table,
    SessionId,
    OrgId,
    PersonaId,
    StartedAt,
    LastAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Questions {
    #[sea_orm(iden = "analytics_questions")]
    Table,
    OrgId,
    AnsweredBy,
    At,
}
