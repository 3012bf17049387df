//! sea-orm queries of the chat tables, always scoped by org (and by session, which is itself org-scoped).

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::entities::{chat_message, chat_session};
use super::views::{MessageView, SessionFilter};
use crate::pagination::{Page, PageQuery};

pub async fn insert_session(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    persona_id: Uuid,
    user_id: Uuid,
) -> Result<chat_session::Model, sea_orm::DbErr> {
    let now = Utc::now();
    chat_session::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org_id),
        persona_id: Set(persona_id),
        user_id: Set(user_id),
        title: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

#[tracing::instrument(skip(db))]
pub async fn find_session(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<chat_session::Model>, sea_orm::DbErr> {
    chat_session::Entity::find_by_id(id).filter(chat_session::Column::OrgId.eq(org_id)).one(db).await
}

/// Characters of the first question kept as a session's title (the migration backfilling titles keeps as many).
pub const TITLE_CHARS: usize = 120;

/// One page of an org's sessions matching `filter` (`user_id`: whose, when the caller may only see their own),
/// most recently active first, with how many messages each has.
pub async fn sessions_page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    user_id: Option<Uuid>,
    among: Option<&[Uuid]>,
    filter: &SessionFilter,
    page: &PageQuery,
) -> Result<(Page<chat_session::Model>, HashMap<Uuid, u64>), sea_orm::DbErr> {
    let mut query = chat_session::Entity::find().filter(chat_session::Column::OrgId.eq(org_id));
    if user_id.is_none() {
        // The org's list is for reading conversations: one not begun yet (a tutor opened, no question asked, like
        // every visit to a persona editor's "try it") has nothing to read.
        query = query.filter(chat_session::Column::Title.is_not_null());
    }
    for user in [user_id, filter.user_id].into_iter().flatten() {
        query = query.filter(chat_session::Column::UserId.eq(user));
    }
    if let Some(students) = among {
        query = query.filter(chat_session::Column::UserId.is_in(students.iter().copied()));
    }
    if let Some(persona) = filter.persona_id {
        query = query.filter(chat_session::Column::PersonaId.eq(persona));
    }
    if let Some(from) = filter.from {
        query = query.filter(chat_session::Column::UpdatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(chat_session::Column::UpdatedAt.lt(to));
    }
    let query = query.order_by_desc(chat_session::Column::UpdatedAt).order_by_desc(chat_session::Column::Id);
    let sessions = Page::fetch(query, db, page, |row| row).await?;
    let ids: Vec<Uuid> = sessions.items.iter().map(|s| s.id).collect();
    Ok((sessions, message_counts(db, org_id, &ids).await?))
}

/// How many messages each of `sessions` has, in one query.
pub async fn message_counts(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    sessions: &[Uuid],
) -> Result<HashMap<Uuid, u64>, sea_orm::DbErr> {
    let rows: Vec<(Uuid, i64)> = chat_message::Entity::find()
        .select_only()
        .column(chat_message::Column::SessionId)
        .column_as(chat_message::Column::Id.count(), "count")
        .filter(chat_message::Column::OrgId.eq(org_id))
        .filter(chat_message::Column::SessionId.is_in(sessions.iter().copied()))
        .group_by(chat_message::Column::SessionId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, n)| (id, u64::try_from(n).unwrap_or(0))).collect())
}

/// Names the session after its first question; a no-op once it has a title.
pub async fn set_title(
    db: &impl ConnectionTrait,
    session: &chat_session::Model,
    question: &str,
) -> Result<(), sea_orm::DbErr> {
    if session.title.is_some() {
        return Ok(());
    }
    let title: String = question.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(TITLE_CHARS).collect();
    chat_session::Entity::update_many()
        .col_expr(chat_session::Column::Title, sea_orm::sea_query::Expr::value(title))
        .filter(chat_session::Column::Id.eq(session.id))
        .filter(chat_session::Column::OrgId.eq(session.org_id))
        .filter(chat_session::Column::Title.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// A message to store; the id is chosen by the caller so frames can name it before it is written.
pub struct NewMessage {
    pub id: Uuid,
    pub org_id: Uuid,
    pub session_id: Uuid,
    pub role: &'static str,
    pub content: String,
    pub status: &'static str,
    pub answered_by: &'static str,
    pub citations: Option<serde_json::Value>,
    pub cues: Option<serde_json::Value>,
    pub usage: Option<serde_json::Value>,
    pub latency_ms: Option<i64>,
    pub error_code: Option<String>,
}

/// Writes the message; an answer also marks the session active (the question before it is moments older, and
/// every question gets an answer row, even a failed or cancelled one: one write per turn saved).
pub async fn insert_message(
    db: &impl ConnectionTrait,
    message: NewMessage,
) -> Result<chat_message::Model, sea_orm::DbErr> {
    // A draft is not yet activity; its end is (see `finish_answer`).
    let touch = message.role == "assistant" && message.status != "streaming";
    let (org_id, session_id) = (message.org_id, message.session_id);
    let mut row = active(message);
    row.created_at = Set(Utc::now());
    let row = row.insert(db).await?;
    if touch {
        touch_session(db, org_id, session_id).await?;
    }
    Ok(row)
}

/// Every field of a message but its creation time.
fn active(message: NewMessage) -> chat_message::ActiveModel {
    chat_message::ActiveModel {
        id: Set(message.id),
        org_id: Set(message.org_id),
        session_id: Set(message.session_id),
        role: Set(message.role.to_owned()),
        content: Set(message.content),
        status: Set(message.status.to_owned()),
        answered_by: Set(message.answered_by.to_owned()),
        citations: Set(message.citations),
        cues: Set(message.cues),
        usage: Set(message.usage),
        latency_ms: Set(message.latency_ms),
        error_code: Set(message.error_code),
        created_at: sea_orm::NotSet,
    }
}

/// Rewrites an answer first stored as a `streaming` draft with how it ended, and marks the session active.
pub async fn finish_answer(
    db: &impl ConnectionTrait,
    message: NewMessage,
) -> Result<chat_message::Model, sea_orm::DbErr> {
    let (id, org_id, session_id) = (message.id, message.org_id, message.session_id);
    let mut row = active(message);
    // Found by its key; the other fields are written as the answer ended (its scope is unchanged).
    row.id = sea_orm::Unchanged(id);
    let row = row.update(db).await?;
    touch_session(db, org_id, session_id).await?;
    Ok(row)
}

/// Saves the text streamed so far into a `streaming` draft, so a replica that dies mid-answer leaves it behind.
pub async fn save_draft(db: &impl ConnectionTrait, id: Uuid, content: &str) -> Result<(), sea_orm::DbErr> {
    chat_message::Entity::update_many()
        .col_expr(chat_message::Column::Content, sea_orm::sea_query::Expr::value(content))
        .filter(chat_message::Column::Id.eq(id))
        .filter(chat_message::Column::Status.eq("streaming"))
        .exec(db)
        .await?;
    Ok(())
}

/// Answers still marked `streaming` (oldest first, at most `limit`), with their session: the sweep's candidates.
pub async fn streaming_answers(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<(Uuid, Uuid)>, sea_orm::DbErr> {
    let rows = chat_message::Entity::find()
        .select_only()
        .columns([chat_message::Column::Id, chat_message::Column::SessionId])
        .filter(chat_message::Column::Status.eq("streaming"))
        .order_by_asc(chat_message::Column::Id)
        .limit(limit)
        .into_tuple::<(Uuid, Uuid)>()
        .all(db)
        .await?;
    Ok(rows)
}

/// Marks a draft whose turn is gone `interrupted`, keeping its partial text; false if it had already ended.
pub async fn mark_interrupted(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, sea_orm::DbErr> {
    let done = chat_message::Entity::update_many()
        .col_expr(chat_message::Column::Status, sea_orm::sea_query::Expr::value("interrupted"))
        .col_expr(chat_message::Column::ErrorCode, sea_orm::sea_query::Expr::value("llm_interrupted"))
        .filter(chat_message::Column::Id.eq(id))
        .filter(chat_message::Column::Status.eq("streaming"))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

async fn touch_session(db: &impl ConnectionTrait, org_id: Uuid, session_id: Uuid) -> Result<(), sea_orm::DbErr> {
    chat_session::Entity::update_many()
        .col_expr(chat_session::Column::UpdatedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(chat_session::Column::Id.eq(session_id))
        .filter(chat_session::Column::OrgId.eq(org_id))
        .exec(db)
        .await?;
    Ok(())
}

/// One page of a session's history, oldest first.
pub async fn messages_page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    session_id: Uuid,
    page: &PageQuery,
) -> Result<Page<MessageView>, sea_orm::DbErr> {
    let query = chat_message::Entity::find()
        .filter(chat_message::Column::OrgId.eq(org_id))
        .filter(chat_message::Column::SessionId.eq(session_id))
        .order_by_asc(chat_message::Column::Id);
    Page::fetch(query, db, page, MessageView::from).await
}

/// Messages written after `after` (all of them up to `limit`), or without it the last `limit`; oldest first.
pub async fn messages_after(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    session_id: Uuid,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<chat_message::Model>, sea_orm::DbErr> {
    let query = chat_message::Entity::find()
        .filter(chat_message::Column::OrgId.eq(org_id))
        .filter(chat_message::Column::SessionId.eq(session_id));
    match after {
        Some(after) => {
            query
                .filter(chat_message::Column::Id.gt(after))
                .order_by_asc(chat_message::Column::Id)
                .limit(limit)
                .all(db)
                .await
        }
        None => {
            let mut rows = query.order_by_desc(chat_message::Column::Id).limit(limit).all(db).await?;
            rows.reverse();
            Ok(rows)
        }
    }
}

/// What a prompt's history needs of a message: not its citations, cues or usage, which cost more to read than
/// the rest of the turn's queries together.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct HistoryRow {
    pub role: String,
    pub content: String,
    pub status: String,
}

/// The newest messages before `before`, newest first: the candidates for a prompt's history.
pub async fn recent_before(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    session_id: Uuid,
    before: Uuid,
    limit: u64,
) -> Result<Vec<HistoryRow>, sea_orm::DbErr> {
    chat_message::Entity::find()
        .select_only()
        .columns([chat_message::Column::Role, chat_message::Column::Content, chat_message::Column::Status])
        .filter(chat_message::Column::OrgId.eq(org_id))
        .filter(chat_message::Column::SessionId.eq(session_id))
        .filter(chat_message::Column::Id.lt(before))
        .order_by_desc(chat_message::Column::Id)
        .limit(limit)
        .into_model::<HistoryRow>()
        .all(db)
        .await
}

/// Every session of a user, and with them (a cascading key) their messages. Returns how many sessions went.
pub async fn delete_sessions_of(db: &impl ConnectionTrait, org_id: Uuid, user_id: Uuid) -> Result<u64, sea_orm::DbErr> {
    let deleted = chat_session::Entity::delete_many()
        .filter(chat_session::Column::OrgId.eq(org_id))
        .filter(chat_session::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
