//! Billing: each org's subscription (its plan, Stripe's ids, the payment state), the usage counters quotas are
//! enforced on (one row per org, limit and period, updated with a conditional `UPDATE` so that concurrent requests
//! cannot overshoot), and the Stripe events already applied (webhooks are retried; each applies once). The
//! counters start from what the org already has. `orgs.plan` is no longer read: the subscription is the truth.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Subscriptions::Table)
                    .if_not_exists()
                    .col(uuid(Subscriptions::OrgId).primary_key())
                    .col(string_len(Subscriptions::Plan, 16))
                    // `active`, `trialing`, `past_due`, `unpaid`, `canceled`, `incomplete`… as Stripe says.
                    .col(string_len(Subscriptions::Status, 24))
                    .col(string_len_null(Subscriptions::StripeCustomerId, 255))
                    .col(string_len_null(Subscriptions::StripeSubscriptionId, 255))
                    .col(big_integer_null(Subscriptions::CurrentPeriodEnd))
                    // After a failed payment: when the plan falls back to Free (Unix ms).
                    .col(big_integer_null(Subscriptions::GraceUntil))
                    // The `created` (Unix s) of the latest Stripe event applied: an older one is not applied over it.
                    .col(big_integer(Subscriptions::LastEventAt).default(0))
                    .col(timestamp_with_time_zone(Subscriptions::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_billing_subscriptions_customer")
                    .table(Subscriptions::Table)
                    .col(Subscriptions::StripeCustomerId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Usage::Table)
                    .if_not_exists()
                    .col(uuid(Usage::OrgId))
                    .col(string_len(Usage::Metric, 32))
                    // `YYYY-MM` for a monthly limit (the org's month), empty for a standing one.
                    .col(string_len(Usage::Period, 7))
                    .col(big_integer(Usage::Used).default(0))
                    .primary_key(Index::create().col(Usage::OrgId).col(Usage::Metric).col(Usage::Period))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .if_not_exists()
                    .col(string_len(WebhookEvents::Id, 255).primary_key())
                    .col(string_len(WebhookEvents::Kind, 80))
                    .col(uuid_null(WebhookEvents::OrgId))
                    .col(timestamp_with_time_zone(WebhookEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        // What each org already has. Messages of the current month are counted from the next one on: the month
        // of the upgrade starts from zero rather than guess the org's time zone here.
        let db = manager.get_connection();
        for backfill in [
            "INSERT INTO billing_usage (org_id, metric, period, used) \
             SELECT org_id, 'seats', '', COUNT(*) FROM users GROUP BY org_id",
            "INSERT INTO billing_usage (org_id, metric, period, used) \
             SELECT org_id, 'personas', '', COUNT(*) FROM personas GROUP BY org_id",
            "INSERT INTO billing_usage (org_id, metric, period, used) \
             SELECT org_id, 'storage_bytes', '', CAST(SUM(size_bytes) AS BIGINT) FROM documents GROUP BY org_id",
        ] {
            db.execute_unprepared(backfill).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [WebhookEvents::Table.into_iden(), Usage::Table.into_iden(), Subscriptions::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Subscriptions {
    #[sea_orm(iden = "billing_subscriptions")]
    Table,
    OrgId,
    Plan,
    Status,
    StripeCustomerId,
    StripeSubscriptionId,
    CurrentPeriodEnd,
    GraceUntil,
    LastEventAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Usage {
    #[sea_orm(iden = "billing_usage")]
    Table,
    OrgId,
    Metric,
    Period,
    Used,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEvents {
    #[sea_orm(iden = "billing_webhook_events")]
    Table,
    Id,
    Kind,
    OrgId,
    ReceivedAt,
}
