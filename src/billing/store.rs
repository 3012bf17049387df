//! The billing tables. A usage counter moves only by one conditional `UPDATE … SET used = used + n WHERE used + n
//! <= limit`: the database applies it atomically (PostgreSQL re-checks the condition on the row's latest version
//! after a concurrent writer commits; SQLite has one writer), so concurrent requests on any number of replicas
//! cannot take the counter past the limit.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::entities::{subscription, usage, webhook_event};

fn counter(org_id: Uuid, metric: &str, period: &str) -> sea_orm::UpdateMany<usage::Entity> {
    usage::Entity::update_many()
        .filter(usage::Column::OrgId.eq(org_id))
        .filter(usage::Column::Metric.eq(metric))
        .filter(usage::Column::Period.eq(period))
}

/// Adds `amount` if the counter stays within `limit` (negative: no limit). `false`: it would not.
pub async fn try_add(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    metric: &str,
    period: &str,
    amount: i64,
    limit: i64,
) -> Result<bool, DbErr> {
    let attempt = || async {
        let mut update = counter(org_id, metric, period).col_expr(usage::Column::Used, used().add(amount));
        if limit >= 0 {
            update = update.filter(used().add(amount).lte(limit));
        }
        Ok::<_, DbErr>(update.exec(db).await?.rows_affected == 1)
    };
    if attempt().await? {
        return Ok(true);
    }
    // The first of this counter (this month's messages, a new org), or the limit: make sure the row exists and
    // ask once more.
    ensure_row(db, org_id, metric, period).await?;
    attempt().await
}

/// Adds `amount` (negative: gives back), never below zero.
pub async fn add(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    metric: &str,
    period: &str,
    amount: i64,
) -> Result<(), DbErr> {
    ensure_row(db, org_id, metric, period).await?;
    let next: Expr = Expr::case(used().add(amount).lt(0), 0i64).finally(used().add(amount)).into();
    counter(org_id, metric, period).col_expr(usage::Column::Used, next).exec(db).await?;
    Ok(())
}

fn used() -> Expr {
    Expr::col(usage::Column::Used)
}

async fn ensure_row(db: &impl ConnectionTrait, org_id: Uuid, metric: &str, period: &str) -> Result<(), DbErr> {
    let row = usage::ActiveModel {
        org_id: Set(org_id),
        metric: Set(metric.to_owned()),
        period: Set(period.to_owned()),
        used: Set(0),
    };
    let conflict = OnConflict::columns([usage::Column::OrgId, usage::Column::Metric, usage::Column::Period])
        .do_nothing()
        .to_owned();
    usage::Entity::insert(row).on_conflict(conflict).exec_without_returning(db).await?;
    Ok(())
}

/// The counter's value (zero when it has none).
pub async fn used_of(db: &impl ConnectionTrait, org_id: Uuid, metric: &str, period: &str) -> Result<i64, DbErr> {
    let row = usage::Entity::find_by_id((org_id, metric.to_owned(), period.to_owned())).one(db).await?;
    Ok(row.map_or(0, |r| r.used))
}

pub async fn subscription(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Option<subscription::Model>, DbErr> {
    subscription::Entity::find_by_id(org_id).one(db).await
}

pub async fn subscription_by_customer(
    db: &impl ConnectionTrait,
    customer: &str,
) -> Result<Option<subscription::Model>, DbErr> {
    subscription::Entity::find().filter(subscription::Column::StripeCustomerId.eq(customer)).one(db).await
}

/// Writes the whole row (inserting it for an org that had none).
pub async fn save_subscription(db: &impl ConnectionTrait, mut row: subscription::Model) -> Result<(), DbErr> {
    use subscription::Column as C;
    row.updated_at = Utc::now();
    let conflict = OnConflict::column(C::OrgId)
        .update_columns([
            C::Plan,
            C::Status,
            C::StripeCustomerId,
            C::StripeSubscriptionId,
            C::CurrentPeriodEnd,
            C::GraceUntil,
            C::LastEventAt,
            C::UpdatedAt,
        ])
        .to_owned();
    let active: subscription::ActiveModel = row.into();
    subscription::Entity::insert(active.reset_all()).on_conflict(conflict).exec_without_returning(db).await?;
    Ok(())
}

/// Records a Stripe event as applied; `false` if it already was (a retry or a replay).
pub async fn first_delivery(
    db: &impl ConnectionTrait,
    id: &str,
    kind: &str,
    org_id: Option<Uuid>,
) -> Result<bool, DbErr> {
    let row = webhook_event::ActiveModel {
        id: Set(id.to_owned()),
        kind: Set(kind.to_owned()),
        org_id: Set(org_id),
        received_at: Set(Utc::now()),
    };
    let conflict = OnConflict::column(webhook_event::Column::Id).do_nothing().to_owned();
    let inserted = webhook_event::Entity::insert(row).on_conflict(conflict).exec_without_returning(db).await?;
    Ok(inserted == 1)
}
