//! Chat: a student's sessions with a persona, and the messages of each.
//!
//! Message ids are UUIDv7, so ordering by id is ordering by creation: history pages and the WebSocket resume
//! (`last_seen_message_id`) both read "messages of this session after id X" from one index. No foreign key to
//! personas: deleting a tutor must not erase what students asked it; a session of a deleted persona stays
//! readable and refuses new messages.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChatSessions::Table)
                    .if_not_exists()
                    .col(uuid(ChatSessions::Id).primary_key())
                    .col(uuid(ChatSessions::OrgId))
                    .col(uuid(ChatSessions::PersonaId))
                    .col(uuid(ChatSessions::UserId))
                    .col(timestamp_with_time_zone(ChatSessions::CreatedAt))
                    .col(timestamp_with_time_zone(ChatSessions::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // `GET /sessions`: a user's sessions, most recently active first.
        manager
            .create_index(
                Index::create()
                    .name("idx_chat_sessions_user_updated")
                    .table(ChatSessions::Table)
                    .col(ChatSessions::OrgId)
                    .col(ChatSessions::UserId)
                    .col(ChatSessions::UpdatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChatMessages::Table)
                    .if_not_exists()
                    .col(uuid(ChatMessages::Id).primary_key())
                    .col(uuid(ChatMessages::OrgId))
                    .col(uuid(ChatMessages::SessionId))
                    // `user` or `assistant`.
                    .col(string_len(ChatMessages::Role, 16))
                    .col(text(ChatMessages::Content))
                    // `complete`, `cancelled` (partial text kept) or `failed` (partial text, `error_code`).
                    .col(string_len(ChatMessages::Status, 16))
                    // `model`, `extractive` or `not_covered` for answers; `student` for questions.
                    .col(string_len(ChatMessages::AnsweredBy, 16))
                    .col(json_null(ChatMessages::Citations))
                    .col(json_null(ChatMessages::Cues))
                    .col(json_null(ChatMessages::Usage))
                    .col(big_integer_null(ChatMessages::LatencyMs))
                    .col(string_len_null(ChatMessages::ErrorCode, 64))
                    .col(timestamp_with_time_zone(ChatMessages::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ChatMessages::Table, ChatMessages::SessionId)
                            .to(ChatSessions::Table, ChatSessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // History pages and resume: a session's messages in id (= creation) order.
        manager
            .create_index(
                Index::create()
                    .name("idx_chat_messages_session_id")
                    .table(ChatMessages::Table)
                    .col(ChatMessages::SessionId)
                    .col(ChatMessages::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["chat_messages", "chat_sessions"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ChatSessions {
    Table,
    Id,
    OrgId,
    PersonaId,
    UserId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ChatMessages {
    Table,
    Id,
    OrgId,
    SessionId,
    Role,
    Content,
    Status,
    AnsweredBy,
    Citations,
    Cues,
    Usage,
    LatencyMs,
    ErrorCode,
    CreatedAt,
}
