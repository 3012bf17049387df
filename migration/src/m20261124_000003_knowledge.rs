//! Knowledge: collections of documents, the documents' processing state, and their chunks (the text that is
//! embedded and cited; the vectors themselves live in the vector store under the same ids).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Collections::Table)
                    .if_not_exists()
                    .col(uuid(Collections::Id).primary_key())
                    .col(uuid(Collections::OrgId))
                    .col(string_len(Collections::Name, 200))
                    .col(text(Collections::Description).default(""))
                    .col(uuid(Collections::CreatedBy))
                    .col(timestamp_with_time_zone(Collections::CreatedAt))
                    .col(timestamp_with_time_zone(Collections::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_collections_org")
                    .table(Collections::Table)
                    .col(Collections::OrgId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Documents::Table)
                    .if_not_exists()
                    .col(uuid(Documents::Id).primary_key())
                    .col(uuid(Documents::OrgId))
                    .col(uuid(Documents::CollectionId))
                    .col(string_len(Documents::Name, 300))
                    .col(string_len_null(Documents::Kind, 16))
                    .col(string_len_null(Documents::ClientContentType, 200))
                    .col(big_integer(Documents::SizeBytes))
                    .col(string_len(Documents::Sha256, 64))
                    .col(string_len(Documents::BlobKey, 300))
                    .col(string_len(Documents::Status, 16))
                    .col(string_len_null(Documents::Stage, 32))
                    .col(small_integer(Documents::Progress).default(0))
                    .col(string_len_null(Documents::ErrorCode, 64))
                    .col(text_null(Documents::ErrorMessage))
                    .col(integer(Documents::ChunkCount).default(0))
                    .col(uuid(Documents::UploadedBy))
                    .col(timestamp_with_time_zone(Documents::CreatedAt))
                    .col(timestamp_with_time_zone(Documents::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Documents::Table, Documents::CollectionId)
                            .to(Collections::Table, Collections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_documents_collection")
                    .table(Documents::Table)
                    .col(Documents::OrgId)
                    .col(Documents::CollectionId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Chunks::Table)
                    .if_not_exists()
                    .col(uuid(Chunks::Id).primary_key())
                    .col(uuid(Chunks::OrgId))
                    .col(uuid(Chunks::CollectionId))
                    .col(uuid(Chunks::DocumentId))
                    .col(integer(Chunks::Ordinal))
                    .col(text(Chunks::Text))
                    .col(integer_null(Chunks::Page))
                    .col(integer_null(Chunks::Slide))
                    .col(text(Chunks::HeadingPath).default(""))
                    .col(big_integer_null(Chunks::StartMs))
                    .col(big_integer_null(Chunks::EndMs))
                    .col(integer(Chunks::TokenCount))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Chunks::Table, Chunks::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_chunks_document")
                    .table(Chunks::Table)
                    .col(Chunks::DocumentId)
                    .col(Chunks::Ordinal)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["chunks", "documents", "collections"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Collections {
    Table,
    Id,
    OrgId,
    Name,
    Description,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    OrgId,
    CollectionId,
    Name,
    Kind,
    ClientContentType,
    SizeBytes,
    Sha256,
    BlobKey,
    Status,
    Stage,
    Progress,
    ErrorCode,
    ErrorMessage,
    ChunkCount,
    UploadedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Chunks {
    Table,
    Id,
    OrgId,
    CollectionId,
    DocumentId,
    Ordinal,
    Text,
    Page,
    Slide,
    HeadingPath,
    StartMs,
    EndMs,
    TokenCount,
}
