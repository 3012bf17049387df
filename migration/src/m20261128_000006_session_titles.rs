//! Sessions get a title (the start of the student's first question), so a list of conversations can say what
//! each was about without reading its messages; and an index for staff reading their org's sessions, most
//! recently active first.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Characters of the first question kept as the title (`chat::store::TITLE_CHARS` writes the same).
const TITLE_CHARS: u32 = 120;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ChatSessions::Table)
                    .add_column_if_not_exists(string_len_null(ChatSessions::Title, TITLE_CHARS))
                    .to_owned(),
            )
            .await?;
        // Sessions from before: their first question, in SQL both backends speak.
        let backfill = format!(
            "UPDATE chat_sessions SET title = (SELECT substr(m.content, 1, {TITLE_CHARS}) FROM chat_messages m \
             WHERE m.session_id = chat_sessions.id AND m.role = 'user' ORDER BY m.id LIMIT 1) WHERE title IS NULL"
        );
        manager.get_connection().execute_unprepared(&backfill).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_chat_sessions_org_updated")
                    .table(ChatSessions::Table)
                    .col(ChatSessions::OrgId)
                    .col(ChatSessions::UpdatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_chat_sessions_org_updated").table(ChatSessions::Table).to_owned())
            .await?;
        manager.alter_table(Table::alter().table(ChatSessions::Table).drop_column(ChatSessions::Title).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ChatSessions {
    Table,
    OrgId,
    Title,
    UpdatedAt,
}
