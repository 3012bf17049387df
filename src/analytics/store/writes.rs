//! Stores a batch of activity in one transaction: the raw events, then the rollups the dashboards read (each a
//! multi-row upsert that adds the batch's counts to what is there), then the students' questions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use crate::analytics::entities::{daily, document_daily, event, question, session};
use crate::analytics::recorder::Activity;
use crate::analytics::zones::{Zones, day_of};

use super::org_totals::{self, Touched};
use crate::chat::views::ChatActivity;

/// Rows per INSERT: well under SQLite's and PostgreSQL's limits on bound values (10 columns × 1000).
pub(super) const ROWS: usize = 1000;

#[derive(Default)]
struct Counts {
    messages: i64,
    sessions: i64,
    answers: i64,
    not_covered: i64,
    flagged: i64,
    tokens: i64,
}

struct SessionDelta {
    org_id: Uuid,
    user_id: Uuid,
    persona_id: Uuid,
    first: i64,
    last: i64,
    messages: i64,
}

#[derive(Default)]
struct Batch {
    events: Vec<event::ActiveModel>,
    daily: HashMap<(Uuid, String, Uuid, Uuid), Counts>,
    documents: HashMap<(Uuid, String, Uuid, Uuid, Uuid), i64>,
    sessions: HashMap<Uuid, SessionDelta>,
    questions: Vec<question::ActiveModel>,
    answers: Vec<question::ActiveModel>,
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

#[allow(clippy::too_many_arguments)]
fn event_row(
    org_id: Uuid,
    at: DateTime<Utc>,
    kind: &str,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
    persona_id: Option<Uuid>,
    document_id: Option<Uuid>,
    data: Option<serde_json::Value>,
) -> event::ActiveModel {
    event::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org_id),
        at: Set(ms(at)),
        kind: Set(kind.to_owned()),
        user_id: Set(user_id),
        session_id: Set(session_id),
        persona_id: Set(persona_id),
        document_id: Set(document_id),
        data: Set(data),
    }
}

impl Batch {
    fn counts(&mut self, org: Uuid, day: String, user: Uuid, persona: Uuid) -> &mut Counts {
        self.daily.entry((org, day, user, persona)).or_default()
    }

    fn touch(&mut self, id: Uuid, org_id: Uuid, user_id: Uuid, persona_id: Uuid, at: i64, messages: i64) {
        let delta = self.sessions.entry(id).or_insert(SessionDelta {
            org_id,
            user_id,
            persona_id,
            first: at,
            last: at,
            messages: 0,
        });
        delta.first = Ord::min(delta.first, at);
        delta.last = Ord::max(delta.last, at);
        delta.messages += messages;
    }

    async fn add(&mut self, zones: &Zones, activity: &Activity) -> anyhow::Result<()> {
        match activity {
            Activity::SignedIn { org_id, user_id, at } => {
                self.events.push(event_row(*org_id, *at, "signed_in", Some(*user_id), None, None, None, None));
            }
            Activity::DocumentFinished(doc, at) => {
                let kind = if doc.status == "ready" { "document_ready" } else { "document_failed" };
                let data = json!({ "chunks": doc.chunk_count, "error_code": doc.error_code });
                self.events.push(event_row(
                    doc.org_id,
                    *at,
                    kind,
                    Some(doc.uploaded_by),
                    None,
                    None,
                    Some(doc.document_id),
                    Some(data),
                ));
            }
            Activity::Flagged { org_id, user_id, session_id, persona_id, severity, at } => {
                let data = json!({ "severity": severity });
                self.events.push(event_row(
                    *org_id,
                    *at,
                    "message_flagged",
                    Some(*user_id),
                    Some(*session_id),
                    *persona_id,
                    None,
                    Some(data),
                ));
                let day = day_of(*at, zones.of(*org_id).await?).to_string();
                self.counts(*org_id, day, *user_id, persona_id.unwrap_or_default()).flagged += 1;
            }
            Activity::QuotaHit { org_id, user_id, quota, at } => {
                let data = json!({ "quota": quota });
                self.events.push(event_row(*org_id, *at, "quota_hit", *user_id, None, None, None, Some(data)));
            }
            Activity::PlanChanged { org_id, user_id, from, to, source, at } => {
                let data = json!({ "from": from, "to": to, "source": source });
                self.events.push(event_row(*org_id, *at, "plan_changed", *user_id, None, None, None, Some(data)));
            }
            Activity::Client { org_id, user_id, kind, session_id, message_id, data, at } => {
                let mut data = data.clone().unwrap_or_else(|| json!({}));
                if let (Some(id), Some(map)) = (message_id, data.as_object_mut()) {
                    map.insert("message_id".into(), json!(id));
                }
                self.events.push(event_row(*org_id, *at, kind, *user_id, *session_id, None, None, Some(data)));
            }
            Activity::Chat(chat) => self.add_chat(zones, chat).await?,
        }
        Ok(())
    }

    async fn add_chat(&mut self, zones: &Zones, chat: &ChatActivity) -> anyhow::Result<()> {
        match chat {
            ChatActivity::SessionStarted { org_id, user_id, session_id, persona_id, at } => {
                let row = event_row(
                    *org_id,
                    *at,
                    "session_started",
                    Some(*user_id),
                    Some(*session_id),
                    Some(*persona_id),
                    None,
                    None,
                );
                self.events.push(row);
                let day = day_of(*at, zones.of(*org_id).await?).to_string();
                self.counts(*org_id, day, *user_id, *persona_id).sessions += 1;
                self.touch(*session_id, *org_id, *user_id, *persona_id, ms(*at), 0);
            }
            ChatActivity::MessageSent { org_id, user_id, session_id, persona_id, message_id, text, at } => {
                let data = json!({ "message_id": message_id, "chars": text.chars().count() });
                let row = event_row(
                    *org_id,
                    *at,
                    "message_sent",
                    Some(*user_id),
                    Some(*session_id),
                    Some(*persona_id),
                    None,
                    Some(data),
                );
                self.events.push(row);
                let day = day_of(*at, zones.of(*org_id).await?).to_string();
                self.counts(*org_id, day, *user_id, *persona_id).messages += 1;
                self.touch(*session_id, *org_id, *user_id, *persona_id, ms(*at), 1);
                self.questions.push(question::ActiveModel {
                    id: Set(*message_id),
                    org_id: Set(*org_id),
                    user_id: Set(*user_id),
                    session_id: Set(*session_id),
                    persona_id: Set(*persona_id),
                    at: Set(ms(*at)),
                    text: Set(text.clone()),
                    answered_by: Set(None),
                    latency_ms: Set(None),
                    documents: Set(None),
                    embedding: Set(None),
                    embedding_model: Set(None),
                });
            }
            ChatActivity::AnswerCompleted {
                org_id,
                user_id,
                session_id,
                persona_id,
                question_id,
                message_id,
                answered_by,
                status,
                latency_ms,
                tokens,
                documents,
                at,
            } => {
                let latency = i64::try_from(*latency_ms).unwrap_or(i64::MAX);
                let data = json!({
                    "message_id": message_id, "question_id": question_id, "answered_by": answered_by,
                    "status": status, "latency_ms": latency_ms, "tokens": tokens, "documents": documents,
                });
                let (org, user, session, persona) = (*org_id, *user_id, *session_id, *persona_id);
                self.events.push(event_row(
                    org,
                    *at,
                    "answer_completed",
                    Some(user),
                    Some(session),
                    Some(persona),
                    None,
                    Some(data),
                ));
                let not_covered = answered_by == "not_covered";
                if not_covered {
                    let data = json!({ "question_id": question_id });
                    self.events.push(event_row(
                        org,
                        *at,
                        "question_not_covered",
                        Some(user),
                        Some(session),
                        Some(persona),
                        None,
                        Some(data),
                    ));
                }
                let day = day_of(*at, zones.of(org).await?).to_string();
                let counts = self.counts(org, day.clone(), user, persona);
                counts.answers += 1;
                counts.not_covered += i64::from(not_covered);
                counts.tokens += i64::from(tokens.unwrap_or(0));
                for document in documents {
                    *self.documents.entry((org, day.clone(), user, persona, *document)).or_default() += 1;
                }
                self.touch(session, org, user, persona, ms(*at), 0);
                self.answers.push(question::ActiveModel {
                    id: Set(*question_id),
                    org_id: Set(org),
                    user_id: Set(user),
                    session_id: Set(session),
                    persona_id: Set(persona),
                    at: Set(ms(*at)),
                    // Only when the question's own row is missing (it was asked before analytics began).
                    text: Set(String::new()),
                    answered_by: Set(Some(answered_by.clone())),
                    latency_ms: Set(Some(latency)),
                    documents: Set(Some(json!(documents))),
                    embedding: Set(None),
                    embedding_model: Set(None),
                });
            }
        }
        Ok(())
    }
}

/// `table.col + excluded.col`: what an upsert adds to a counter.
pub(super) fn add(table: &str, col: impl sea_orm::sea_query::IntoIden + Copy) -> Expr {
    Expr::col((Alias::new(table), col)).add(Expr::col((Alias::new("excluded"), col)))
}

pub async fn store(db: &DatabaseConnection, zones: &Zones, activities: &[Activity]) -> anyhow::Result<()> {
    let mut batch = Batch::default();
    for activity in activities {
        batch.add(zones, activity).await?;
    }
    let mut touched = Vec::with_capacity(batch.sessions.len());
    for (id, d) in &batch.sessions {
        let zone = zones.of(d.org_id).await?;
        touched.push(Touched {
            id: *id,
            org_id: d.org_id,
            persona_id: d.persona_id,
            first: d.first,
            last: d.last,
            zone,
        });
    }
    let txn = db.begin().await?;
    for rows in batch.events.chunks(ROWS) {
        event::Entity::insert_many(rows.to_vec()).exec_without_returning(&txn).await?;
    }
    let daily_rows: Vec<daily::ActiveModel> = batch
        .daily
        .into_iter()
        .map(|((org_id, day, user_id, persona_id), c)| daily::ActiveModel {
            org_id: Set(org_id),
            day: Set(day),
            user_id: Set(user_id),
            persona_id: Set(persona_id),
            messages: Set(c.messages),
            sessions: Set(c.sessions),
            answers: Set(c.answers),
            not_covered: Set(c.not_covered),
            flagged: Set(c.flagged),
            tokens: Set(c.tokens),
        })
        .collect();
    for rows in daily_rows.chunks(ROWS) {
        use daily::Column as C;
        let t = "analytics_daily";
        let conflict = OnConflict::columns([C::OrgId, C::Day, C::UserId, C::PersonaId])
            .values([
                (C::Messages, add(t, C::Messages)),
                (C::Sessions, add(t, C::Sessions)),
                (C::Answers, add(t, C::Answers)),
                (C::NotCovered, add(t, C::NotCovered)),
                (C::Flagged, add(t, C::Flagged)),
                (C::Tokens, add(t, C::Tokens)),
            ])
            .to_owned();
        daily::Entity::insert_many(rows.to_vec()).on_conflict(conflict).exec_without_returning(&txn).await?;
    }
    org_totals::add_citations(&txn, &batch.documents).await?;
    let document_rows: Vec<document_daily::ActiveModel> = batch
        .documents
        .into_iter()
        .map(|((org_id, day, user_id, persona_id, document_id), citations)| document_daily::ActiveModel {
            org_id: Set(org_id),
            day: Set(day),
            user_id: Set(user_id),
            persona_id: Set(persona_id),
            document_id: Set(document_id),
            citations: Set(citations),
        })
        .collect();
    for rows in document_rows.chunks(ROWS) {
        use document_daily::Column as C;
        let conflict = OnConflict::columns([C::OrgId, C::Day, C::UserId, C::PersonaId, C::DocumentId])
            .values([(C::Citations, add("analytics_document_daily", C::Citations))])
            .to_owned();
        document_daily::Entity::insert_many(rows.to_vec()).on_conflict(conflict).exec_without_returning(&txn).await?;
    }
    org_totals::move_session_lengths(&txn, &touched).await?;
    let session_rows: Vec<session::ActiveModel> = batch
        .sessions
        .into_iter()
        .map(|(id, d)| session::ActiveModel {
            session_id: Set(id),
            org_id: Set(d.org_id),
            user_id: Set(d.user_id),
            persona_id: Set(d.persona_id),
            started_at: Set(d.first),
            last_at: Set(d.last),
            messages: Set(d.messages),
        })
        .collect();
    for rows in session_rows.chunks(ROWS) {
        use session::Column as C;
        let later = Expr::cust(
            "CASE WHEN excluded.last_at > analytics_sessions.last_at THEN excluded.last_at \
             ELSE analytics_sessions.last_at END",
        );
        let conflict = OnConflict::column(C::SessionId)
            .values([(C::LastAt, later), (C::Messages, add("analytics_sessions", C::Messages))])
            .to_owned();
        session::Entity::insert_many(rows.to_vec()).on_conflict(conflict).exec_without_returning(&txn).await?;
    }
    for rows in batch.questions.chunks(ROWS) {
        let conflict = OnConflict::column(question::Column::Id).do_nothing().to_owned();
        question::Entity::insert_many(rows.to_vec()).on_conflict(conflict).exec_without_returning(&txn).await?;
    }
    for rows in batch.answers.chunks(ROWS) {
        use question::Column as C;
        let conflict = OnConflict::column(C::Id).update_columns([C::AnsweredBy, C::LatencyMs, C::Documents]).to_owned();
        question::Entity::insert_many(rows.to_vec()).on_conflict(conflict).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    Ok(())
}
