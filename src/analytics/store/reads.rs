//! The dashboards' reads. Counts come from the rollups (one row per day, student and tutor), never from the raw
//! events, so a dashboard reads thousands of rows where the events are millions. Every read is narrowed to one org
//! and, for a teacher or a class, to a list of students.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use uuid::Uuid;

use super::org_totals;
use crate::analytics::entities::{daily, document_daily, question, session};

/// Whose activity a read covers: an org, or some of its students.
#[derive(Debug, Clone)]
pub struct Scope {
    pub org_id: Uuid,
    /// `None`: the whole org.
    pub students: Option<Vec<Uuid>>,
}

/// Days as stored (`YYYY-MM-DD`, inclusive) and the same period in Unix milliseconds (end exclusive).
#[derive(Debug, Clone)]
pub struct Range {
    pub from: String,
    pub to: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

const ACTIVE: &str = "COUNT(DISTINCT CASE WHEN messages > 0 THEN user_id END)";

fn sum(col: &str) -> Expr {
    // PostgreSQL sums BIGINT as NUMERIC; the cast keeps the type i64 on both databases.
    Expr::cust(format!("CAST(COALESCE(SUM({col}), 0) AS BIGINT)"))
}

fn daily_in(scope: &Scope, range: &Range) -> Select<daily::Entity> {
    let query = daily::Entity::find()
        .filter(daily::Column::OrgId.eq(scope.org_id))
        .filter(daily::Column::Day.between(range.from.clone(), range.to.clone()));
    match &scope.students {
        Some(ids) => query.filter(daily::Column::UserId.is_in(ids.iter().copied())),
        None => query,
    }
}

/// Per day: active students, messages, sessions, not covered.
pub async fn days(
    db: &impl ConnectionTrait,
    scope: &Scope,
    range: &Range,
) -> Result<Vec<(String, i64, i64, i64, i64)>, DbErr> {
    daily_in(scope, range)
        .select_only()
        .column(daily::Column::Day)
        .column_as(Expr::cust(ACTIVE), "active")
        .column_as(sum("messages"), "messages")
        .column_as(sum("sessions"), "sessions")
        .column_as(sum("not_covered"), "not_covered")
        .group_by(daily::Column::Day)
        .into_tuple()
        .all(db)
        .await
}

/// Active students, messages, sessions, answers, not covered, flagged, tokens over the period.
pub async fn totals(db: &impl ConnectionTrait, scope: &Scope, range: &Range) -> Result<[i64; 7], DbErr> {
    let row: Option<(i64, i64, i64, i64, i64, i64, i64)> = daily_in(scope, range)
        .select_only()
        .column_as(Expr::cust(ACTIVE), "active")
        .column_as(sum("messages"), "messages")
        .column_as(sum("sessions"), "sessions")
        .column_as(sum("answers"), "answers")
        .column_as(sum("not_covered"), "not_covered")
        .column_as(sum("flagged"), "flagged")
        .column_as(sum("tokens"), "tokens")
        .into_tuple()
        .one(db)
        .await?;
    Ok(row.map_or([0; 7], |(a, b, c, d, e, f, g)| [a, b, c, d, e, f, g]))
}

/// Per tutor: messages, sessions, students; most messages first.
pub async fn personas(
    db: &impl ConnectionTrait,
    scope: &Scope,
    range: &Range,
    limit: u64,
) -> Result<Vec<(Uuid, i64, i64, i64)>, DbErr> {
    daily_in(scope, range)
        .filter(daily::Column::PersonaId.ne(Uuid::nil()))
        .select_only()
        .column(daily::Column::PersonaId)
        .column_as(sum("messages"), "messages")
        .column_as(sum("sessions"), "sessions")
        .column_as(Expr::cust(ACTIVE), "students")
        .group_by(daily::Column::PersonaId)
        .order_by_desc(Expr::cust("messages"))
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// One tutor's days: messages, sessions.
pub async fn persona_days(
    db: &impl ConnectionTrait,
    scope: &Scope,
    range: &Range,
    persona_id: Uuid,
) -> Result<Vec<(String, i64, i64)>, DbErr> {
    daily_in(scope, range)
        .filter(daily::Column::PersonaId.eq(persona_id))
        .select_only()
        .column(daily::Column::Day)
        .column_as(sum("messages"), "messages")
        .column_as(sum("sessions"), "sessions")
        .group_by(daily::Column::Day)
        .into_tuple()
        .all(db)
        .await
}

/// One tutor's totals: messages, sessions, students, answers, not covered, tokens.
pub async fn persona_totals(
    db: &impl ConnectionTrait,
    scope: &Scope,
    range: &Range,
    persona_id: Uuid,
) -> Result<(i64, i64, i64, i64, i64, i64), DbErr> {
    let row = daily_in(scope, range)
        .filter(daily::Column::PersonaId.eq(persona_id))
        .select_only()
        .column_as(sum("messages"), "messages")
        .column_as(sum("sessions"), "sessions")
        .column_as(Expr::cust(ACTIVE), "students")
        .column_as(sum("answers"), "answers")
        .column_as(sum("not_covered"), "not_covered")
        .column_as(sum("tokens"), "tokens")
        .into_tuple()
        .one(db)
        .await?;
    Ok(row.unwrap_or_default())
}

/// Per student: messages, sessions, not covered, days active.
pub async fn students(
    db: &impl ConnectionTrait,
    scope: &Scope,
    range: &Range,
) -> Result<HashMap<Uuid, (i64, i64, i64, i64)>, DbErr> {
    let rows: Vec<(Uuid, i64, i64, i64, i64)> = daily_in(scope, range)
        .select_only()
        .column(daily::Column::UserId)
        .column_as(sum("messages"), "messages")
        .column_as(sum("sessions"), "sessions")
        .column_as(sum("not_covered"), "not_covered")
        .column_as(Expr::cust("COUNT(DISTINCT CASE WHEN messages > 0 THEN day END)"), "days")
        .group_by(daily::Column::UserId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, m, s, n, d)| (id, (m, s, n, d))).collect())
}

/// One student's messages per day (days with none are absent).
pub async fn student_days(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    student: Uuid,
    from: &str,
    to: &str,
) -> Result<Vec<(String, i64)>, DbErr> {
    daily::Entity::find()
        .filter(daily::Column::OrgId.eq(org_id))
        .filter(daily::Column::UserId.eq(student))
        .filter(daily::Column::Day.between(from.to_owned(), to.to_owned()))
        .select_only()
        .column(daily::Column::Day)
        .column_as(sum("messages"), "messages")
        .group_by(daily::Column::Day)
        .order_by_asc(daily::Column::Day)
        .into_tuple()
        .all(db)
        .await
}

/// Most-cited documents: id, citations.
pub async fn documents(
    db: &impl ConnectionTrait,
    scope: &Scope,
    range: &Range,
    persona_id: Option<Uuid>,
    limit: u64,
) -> Result<Vec<(Uuid, i64)>, DbErr> {
    if scope.students.is_none() {
        return org_totals::documents(db, scope.org_id, (&range.from, &range.to), persona_id, limit).await;
    }
    let mut query = document_daily::Entity::find()
        .filter(document_daily::Column::OrgId.eq(scope.org_id))
        .filter(document_daily::Column::Day.between(range.from.clone(), range.to.clone()));
    if let Some(ids) = &scope.students {
        query = query.filter(document_daily::Column::UserId.is_in(ids.iter().copied()));
    }
    if let Some(persona_id) = persona_id {
        query = query.filter(document_daily::Column::PersonaId.eq(persona_id));
    }
    query
        .select_only()
        .column(document_daily::Column::DocumentId)
        .column_as(sum("citations"), "citations")
        .group_by(document_daily::Column::DocumentId)
        .order_by_desc(Expr::cust("citations"))
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

fn sessions_in(scope: &Scope, range: &Range) -> Select<session::Entity> {
    let query = session::Entity::find()
        .filter(session::Column::OrgId.eq(scope.org_id))
        .filter(session::Column::StartedAt.gte(range.start_ms))
        .filter(session::Column::StartedAt.lt(range.end_ms));
    match &scope.students {
        Some(ids) => query.filter(session::Column::UserId.is_in(ids.iter().copied())),
        None => query,
    }
}

/// The median of (last message - start) over the sessions started in the period, in milliseconds: exact for some
/// students, from the length histogram (within half a percent) for the whole org.
pub async fn median_session_ms(
    db: &impl ConnectionTrait,
    scope: &Scope,
    range: &Range,
    persona_id: Option<Uuid>,
) -> Result<Option<i64>, DbErr> {
    if scope.students.is_none() {
        return org_totals::median_session_ms(db, scope.org_id, (&range.from, &range.to), persona_id).await;
    }
    let narrowed = |q: Select<session::Entity>| match persona_id {
        Some(id) => q.filter(session::Column::PersonaId.eq(id)),
        None => q,
    };
    let count = sea_orm::PaginatorTrait::count(narrowed(sessions_in(scope, range)), db).await?;
    if count == 0 {
        return Ok(None);
    }
    narrowed(sessions_in(scope, range))
        .select_only()
        .column_as(Expr::cust("last_at - started_at"), "length")
        .order_by_asc(Expr::cust("last_at - started_at"))
        .offset(count / 2)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
}

/// A student's latest sessions (any time) and when they were last active.
pub async fn student_sessions(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    student: Uuid,
    limit: u64,
) -> Result<Vec<session::Model>, DbErr> {
    session::Entity::find()
        .filter(session::Column::OrgId.eq(org_id))
        .filter(session::Column::UserId.eq(student))
        .order_by_desc(session::Column::LastAt)
        .limit(limit)
        .all(db)
        .await
}

/// When each of `students` last wrote (any time).
pub async fn last_active(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    students: &[Uuid],
) -> Result<HashMap<Uuid, i64>, DbErr> {
    let rows: Vec<(Uuid, Option<i64>)> = session::Entity::find()
        .filter(session::Column::OrgId.eq(org_id))
        .filter(session::Column::UserId.is_in(students.iter().copied()))
        .filter(session::Column::Messages.gt(0))
        .select_only()
        .column(session::Column::UserId)
        .column_as(session::Column::LastAt.max(), "last")
        .group_by(session::Column::UserId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(|(id, last)| last.map(|l| (id, l))).collect())
}

/// The questions asked in the period, newest first: all, or only those answered `not_covered`.
pub async fn questions(
    db: &impl ConnectionTrait,
    scope: &Scope,
    range: &Range,
    persona_id: Option<Uuid>,
    not_covered_only: bool,
    limit: u64,
) -> Result<Vec<question::Model>, DbErr> {
    let mut query = question::Entity::find()
        .filter(question::Column::OrgId.eq(scope.org_id))
        .filter(question::Column::At.gte(range.start_ms))
        .filter(question::Column::At.lt(range.end_ms))
        .filter(question::Column::Text.ne(""));
    if let Some(ids) = &scope.students {
        query = query.filter(question::Column::UserId.is_in(ids.iter().copied()));
    }
    if let Some(id) = persona_id {
        query = query.filter(question::Column::PersonaId.eq(id));
    }
    if not_covered_only {
        query = query.filter(question::Column::AnsweredBy.eq("not_covered"));
    }
    query.order_by_desc(question::Column::At).limit(limit).all(db).await
}

/// Answer latencies of a tutor's questions in the period (for its median).
pub async fn latencies(
    db: &impl ConnectionTrait,
    scope: &Scope,
    range: &Range,
    persona_id: Uuid,
) -> Result<Vec<i64>, DbErr> {
    let mut query = question::Entity::find()
        .filter(question::Column::OrgId.eq(scope.org_id))
        .filter(question::Column::PersonaId.eq(persona_id))
        .filter(question::Column::At.gte(range.start_ms))
        .filter(question::Column::At.lt(range.end_ms))
        .filter(question::Column::LatencyMs.is_not_null());
    if let Some(ids) = &scope.students {
        query = query.filter(question::Column::UserId.is_in(ids.iter().copied()));
    }
    let rows: Vec<Option<i64>> = query
        .select_only()
        .column(question::Column::LatencyMs)
        .order_by_asc(question::Column::LatencyMs)
        .limit(100_000)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().flatten().collect())
}

/// How a tutor's questions in the period were answered: answered_by → count.
pub async fn answered_by(
    db: &impl ConnectionTrait,
    scope: &Scope,
    range: &Range,
    persona_id: Uuid,
) -> Result<Vec<(Option<String>, i64)>, DbErr> {
    let mut query = question::Entity::find()
        .filter(question::Column::OrgId.eq(scope.org_id))
        .filter(question::Column::PersonaId.eq(persona_id))
        .filter(question::Column::At.gte(range.start_ms))
        .filter(question::Column::At.lt(range.end_ms));
    if let Some(ids) = &scope.students {
        query = query.filter(question::Column::UserId.is_in(ids.iter().copied()));
    }
    query
        .select_only()
        .column(question::Column::AnsweredBy)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(question::Column::AnsweredBy)
        .into_tuple()
        .all(db)
        .await
}

/// Stores the embeddings computed for grouping, so each question is embedded once per model.
pub async fn save_embeddings(db: &impl ConnectionTrait, model: &str, rows: &[(Uuid, Vec<u8>)]) -> Result<(), DbErr> {
    for (id, bytes) in rows {
        question::Entity::update_many()
            .col_expr(question::Column::Embedding, Expr::value(bytes.clone()))
            .col_expr(question::Column::EmbeddingModel, Expr::value(model))
            .filter(question::Column::Id.eq(*id))
            .exec(db)
            .await?;
    }
    Ok(())
}
