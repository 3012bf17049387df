//! Learning analytics: the raw events, the rollups the dashboards read (per day, student and tutor; per day,
//! student and cited document; per session), the students' questions for grouping by meaning, safety flags and
//! their notifications, each org's oversight settings, and the stored weekly reports. Times are Unix milliseconds,
//! days `YYYY-MM-DD` in the org's time zone.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .if_not_exists()
                    .col(uuid(Events::Id).primary_key())
                    .col(uuid(Events::OrgId))
                    .col(big_integer(Events::At))
                    .col(string_len(Events::Kind, 40))
                    .col(uuid_null(Events::UserId))
                    .col(uuid_null(Events::SessionId))
                    .col(uuid_null(Events::PersonaId))
                    .col(uuid_null(Events::DocumentId))
                    .col(json_null(Events::Data))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_analytics_events_kind", Events::Table, &[Events::OrgId, Events::Kind, Events::At]).await?;
        index(manager, "idx_analytics_events_user", Events::Table, &[Events::OrgId, Events::UserId, Events::At])
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Daily::Table)
                    .if_not_exists()
                    .col(uuid(Daily::OrgId))
                    .col(string_len(Daily::Day, 10))
                    .col(uuid(Daily::UserId))
                    .col(uuid(Daily::PersonaId))
                    .col(big_integer(Daily::Messages).default(0))
                    .col(big_integer(Daily::Sessions).default(0))
                    .col(big_integer(Daily::Answers).default(0))
                    .col(big_integer(Daily::NotCovered).default(0))
                    .col(big_integer(Daily::Flagged).default(0))
                    .col(big_integer(Daily::Tokens).default(0))
                    .primary_key(
                        Index::create().col(Daily::OrgId).col(Daily::Day).col(Daily::UserId).col(Daily::PersonaId),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_analytics_daily_user", Daily::Table, &[Daily::OrgId, Daily::UserId, Daily::Day]).await?;

        manager
            .create_table(
                Table::create()
                    .table(DocDaily::Table)
                    .if_not_exists()
                    .col(uuid(DocDaily::OrgId))
                    .col(string_len(DocDaily::Day, 10))
                    .col(uuid(DocDaily::UserId))
                    .col(uuid(DocDaily::PersonaId))
                    .col(uuid(DocDaily::DocumentId))
                    .col(big_integer(DocDaily::Citations).default(0))
                    .primary_key(
                        Index::create()
                            .col(DocDaily::OrgId)
                            .col(DocDaily::Day)
                            .col(DocDaily::UserId)
                            .col(DocDaily::PersonaId)
                            .col(DocDaily::DocumentId),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(uuid(Sessions::SessionId).primary_key())
                    .col(uuid(Sessions::OrgId))
                    .col(uuid(Sessions::UserId))
                    .col(uuid(Sessions::PersonaId))
                    .col(big_integer(Sessions::StartedAt))
                    .col(big_integer(Sessions::LastAt))
                    .col(big_integer(Sessions::Messages).default(0))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_analytics_sessions_org", Sessions::Table, &[Sessions::OrgId, Sessions::StartedAt]).await?;
        index(manager, "idx_analytics_sessions_user", Sessions::Table, &[Sessions::UserId, Sessions::StartedAt])
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Questions::Table)
                    .if_not_exists()
                    .col(uuid(Questions::Id).primary_key())
                    .col(uuid(Questions::OrgId))
                    .col(uuid(Questions::UserId))
                    .col(uuid(Questions::SessionId))
                    .col(uuid(Questions::PersonaId))
                    .col(big_integer(Questions::At))
                    .col(text(Questions::Text))
                    // Null until the answer ends: `model`, `extractive` or `not_covered`.
                    .col(string_len_null(Questions::AnsweredBy, 16))
                    .col(big_integer_null(Questions::LatencyMs))
                    .col(json_null(Questions::Documents))
                    // The question's embedding (little-endian f32), computed when it is first grouped.
                    .col(blob_null(Questions::Embedding))
                    .col(string_len_null(Questions::EmbeddingModel, 120))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_analytics_questions_org", Questions::Table, &[Questions::OrgId, Questions::At]).await?;

        manager
            .create_table(
                Table::create()
                    .table(Flags::Table)
                    .if_not_exists()
                    .col(uuid(Flags::Id).primary_key())
                    .col(uuid(Flags::OrgId))
                    .col(uuid(Flags::MessageId))
                    .col(uuid(Flags::SessionId))
                    .col(uuid(Flags::StudentId))
                    .col(string_len(Flags::Severity, 8))
                    .col(string_len(Flags::Source, 16))
                    .col(string_len(Flags::Category, 64))
                    .col(text(Flags::Excerpt))
                    .col(big_integer(Flags::CreatedAt))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_safety_flags_org", Flags::Table, &[Flags::OrgId, Flags::CreatedAt]).await?;

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .if_not_exists()
                    .col(uuid(Notifications::Id).primary_key())
                    .col(uuid(Notifications::OrgId))
                    .col(uuid(Notifications::UserId))
                    .col(uuid(Notifications::FlagId))
                    .col(big_integer(Notifications::CreatedAt))
                    .col(big_integer_null(Notifications::ReadAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Notifications::Table, Notifications::FlagId)
                            .to(Flags::Table, Flags::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_notifications_user",
            Notifications::Table,
            &[Notifications::UserId, Notifications::CreatedAt],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Settings::Table)
                    .if_not_exists()
                    .col(uuid(Settings::OrgId).primary_key())
                    .col(string_len(Settings::TimeZone, 64))
                    .col(boolean(Settings::TeachersSeeTranscripts))
                    .col(json(Settings::SafetyAdminIds))
                    .col(json(Settings::SafetyTerms))
                    .col(timestamp_with_time_zone(Settings::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reports::Table)
                    .if_not_exists()
                    .col(uuid(Reports::OrgId))
                    .col(string_len(Reports::Week, 8))
                    .col(big_integer(Reports::GeneratedAt))
                    .col(json(Reports::Body))
                    .primary_key(Index::create().col(Reports::OrgId).col(Reports::Week))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Reports::Table.into_iden(),
            Settings::Table.into_iden(),
            Notifications::Table.into_iden(),
            Flags::Table.into_iden(),
            Questions::Table.into_iden(),
            Sessions::Table.into_iden(),
            DocDaily::Table.into_iden(),
            Daily::Table.into_iden(),
            Events::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

async fn index<T: Iden + Copy + 'static, C: Iden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[C],
) -> Result<(), DbErr> {
    let mut create = Index::create();
    create.name(name).table(table).if_not_exists();
    for col in cols {
        create.col(*col);
    }
    manager.create_index(create.to_owned()).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Events {
    #[sea_orm(iden = "analytics_events")]
    Table,
    Id,
    OrgId,
    At,
    Kind,
    UserId,
    SessionId,
    PersonaId,
    DocumentId,
    Data,
}

#[derive(DeriveIden, Clone, Copy)]
enum Daily {
    #[sea_orm(iden = "analytics_daily")]
    Table,
    OrgId,
    Day,
    UserId,
    PersonaId,
    Messages,
    Sessions,
    Answers,
    NotCovered,
    Flagged,
    Tokens,
}

#[derive(DeriveIden, Clone, Copy)]
enum DocDaily {
    #[sea_orm(iden = "analytics_document_daily")]
    Table,
    OrgId,
    Day,
    UserId,
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
    UserId,
    PersonaId,
    StartedAt,
    LastAt,
    Messages,
}

#[derive(DeriveIden, Clone, Copy)]
enum Questions {
    #[sea_orm(iden = "analytics_questions")]
    Table,
    Id,
    OrgId,
    UserId,
    SessionId,
    PersonaId,
    At,
    Text,
    AnsweredBy,
    LatencyMs,
    Documents,
    Embedding,
    EmbeddingModel,
}

#[derive(DeriveIden, Clone, Copy)]
enum Flags {
    #[sea_orm(iden = "safety_flags")]
    Table,
    Id,
    OrgId,
    MessageId,
    SessionId,
    StudentId,
    Severity,
    Source,
    Category,
    Excerpt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Notifications {
    #[sea_orm(iden = "alert_notifications")]
    Table,
    Id,
    OrgId,
    UserId,
    FlagId,
    CreatedAt,
    ReadAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Settings {
    #[sea_orm(iden = "analytics_settings")]
    Table,
    OrgId,
    TimeZone,
    TeachersSeeTranscripts,
    SafetyAdminIds,
    SafetyTerms,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Reports {
    #[sea_orm(iden = "analytics_reports")]
    Table,
    OrgId,
    Week,
    GeneratedAt,
    Body,
}
