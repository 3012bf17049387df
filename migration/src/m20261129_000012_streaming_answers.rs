//! Answers still streaming are looked up at every start and every lease period (to mark those a dead replica left
//! `interrupted`). A partial index holds only those few rows, so the lookup never scans the whole message history.
//! Both SQLite and PostgreSQL take `CREATE INDEX … WHERE`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_chat_messages_streaming ON chat_messages (id) WHERE status = 'streaming'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX IF EXISTS idx_chat_messages_streaming").await?;
        Ok(())
    }
}
