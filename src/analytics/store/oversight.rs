//! Oversight rows: each org's settings, safety flags and the notifications they send, and stored weekly reports.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::analytics::entities::{flag, notification, report, settings};
use crate::pagination::PageQuery;

pub async fn settings(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Option<settings::Model>, DbErr> {
    settings::Entity::find_by_id(org_id).one(db).await
}

pub async fn save_settings(db: &impl ConnectionTrait, row: settings::Model) -> Result<(), DbErr> {
    use settings::Column as C;
    let conflict = OnConflict::column(C::OrgId)
        .update_columns([C::TimeZone, C::TeachersSeeTranscripts, C::SafetyAdminIds, C::SafetyTerms, C::UpdatedAt])
        .to_owned();
    settings::Entity::insert(settings::ActiveModel::from(row)).on_conflict(conflict).exec_without_returning(db).await?;
    Ok(())
}

/// Stores a flag and one notification per recipient.
pub async fn insert_flag(db: &impl ConnectionTrait, row: flag::Model, recipients: &[Uuid]) -> Result<(), DbErr> {
    let (org_id, flag_id, at) = (row.org_id, row.id, row.created_at);
    flag::Entity::insert(flag::ActiveModel::from(row)).exec_without_returning(db).await?;
    if recipients.is_empty() {
        return Ok(());
    }
    let rows = recipients.iter().map(|user_id| notification::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org_id),
        user_id: Set(*user_id),
        flag_id: Set(flag_id),
        created_at: Set(at),
        read_at: Set(None),
    });
    notification::Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// A page of `user_id`'s notifications, newest first, each with its flag.
pub async fn notifications_page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    user_id: Uuid,
    unread_only: bool,
    page: &PageQuery,
) -> Result<(Vec<(notification::Model, Option<flag::Model>)>, u64), DbErr> {
    let mut query = notification::Entity::find()
        .filter(notification::Column::OrgId.eq(org_id))
        .filter(notification::Column::UserId.eq(user_id));
    if unread_only {
        query = query.filter(notification::Column::ReadAt.is_null());
    }
    let pages = query
        .order_by_desc(notification::Column::CreatedAt)
        .order_by_desc(notification::Column::Id)
        .paginate(db, page.per_page());
    let total = pages.num_items().await?;
    let rows = pages.fetch_page(page.index()).await?;
    let ids: Vec<Uuid> = rows.iter().map(|n| n.flag_id).collect();
    let flags = flag::Entity::find().filter(flag::Column::Id.is_in(ids)).all(db).await?;
    let joined = rows
        .into_iter()
        .map(|n| {
            let f = flags.iter().find(|f| f.id == n.flag_id).cloned();
            (n, f)
        })
        .collect();
    Ok((joined, total))
}

pub async fn unread(db: &impl ConnectionTrait, org_id: Uuid, user_id: Uuid) -> Result<u64, DbErr> {
    notification::Entity::find()
        .filter(notification::Column::OrgId.eq(org_id))
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null())
        .count(db)
        .await
}

/// Marks `user_id`'s notification `id` (or all of them) read; how many changed.
pub async fn mark_read(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    user_id: Uuid,
    id: Option<Uuid>,
    now_ms: i64,
) -> Result<u64, DbErr> {
    let mut update = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(now_ms))
        .filter(notification::Column::OrgId.eq(org_id))
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null());
    if let Some(id) = id {
        update = update.filter(notification::Column::Id.eq(id));
    }
    Ok(update.exec(db).await?.rows_affected)
}

pub async fn notification(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<notification::Model>, DbErr> {
    notification::Entity::find_by_id(id)
        .filter(notification::Column::OrgId.eq(org_id))
        .filter(notification::Column::UserId.eq(user_id))
        .one(db)
        .await
}

pub async fn save_report(db: &impl ConnectionTrait, row: report::Model) -> Result<(), DbErr> {
    use report::Column as C;
    let conflict = OnConflict::columns([C::OrgId, C::Week]).update_columns([C::GeneratedAt, C::Body]).to_owned();
    report::Entity::insert(report::ActiveModel::from(row)).on_conflict(conflict).exec_without_returning(db).await?;
    Ok(())
}

pub async fn report(db: &impl ConnectionTrait, org_id: Uuid, week: &str) -> Result<Option<report::Model>, DbErr> {
    report::Entity::find_by_id((org_id, week.to_owned())).one(db).await
}

/// Removes a person's analytics (their account is being deleted).
pub async fn erase_user(db: &impl ConnectionTrait, org_id: Uuid, user_id: Uuid) -> Result<(), DbErr> {
    use crate::analytics::entities::{daily, document_daily, event, question, session};
    event::Entity::delete_many()
        .filter(event::Column::OrgId.eq(org_id))
        .filter(event::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    daily::Entity::delete_many()
        .filter(daily::Column::OrgId.eq(org_id))
        .filter(daily::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    document_daily::Entity::delete_many()
        .filter(document_daily::Column::OrgId.eq(org_id))
        .filter(document_daily::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    session::Entity::delete_many()
        .filter(session::Column::OrgId.eq(org_id))
        .filter(session::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    question::Entity::delete_many()
        .filter(question::Column::OrgId.eq(org_id))
        .filter(question::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    flag::Entity::delete_many()
        .filter(flag::Column::OrgId.eq(org_id))
        .filter(flag::Column::StudentId.eq(user_id))
        .exec(db)
        .await?;
    notification::Entity::delete_many()
        .filter(notification::Column::OrgId.eq(org_id))
        .filter(notification::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}
