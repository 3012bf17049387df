//! Personas: the tutors teachers build, and the collections each one draws on.
//!
//! `persona_collections` keeps a persona's collection list as rows (in the caller's order) rather than a JSON
//! array, so the database itself keeps the lists honest: deleting a collection deletes its rows here through the
//! foreign key (the persona then simply no longer names it), and no code outside the ingest domain ever reads
//! the collections table.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Personas::Table)
                    .if_not_exists()
                    .col(uuid(Personas::Id).primary_key())
                    .col(uuid(Personas::OrgId))
                    .col(string_len(Personas::Name, 120))
                    .col(text(Personas::Description).default(""))
                    .col(string_len(Personas::Tone, 200).default(""))
                    .col(text(Personas::Instructions).default(""))
                    .col(string_len(Personas::TeachingMode, 16))
                    .col(text(Personas::Greeting).default(""))
                    // No foreign key yet: the avatar issue adds the avatars table, and then the key (set null).
                    .col(uuid_null(Personas::AvatarId))
                    // Null: the server's configured default model.
                    .col(string_len_null(Personas::Model, 200))
                    .col(double(Personas::Temperature))
                    .col(integer(Personas::MaxTokens))
                    .col(uuid(Personas::CreatedBy))
                    .col(timestamp_with_time_zone(Personas::CreatedAt))
                    .col(timestamp_with_time_zone(Personas::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_personas_org_name")
                    .table(Personas::Table)
                    .col(Personas::OrgId)
                    .col(Personas::Name)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PersonaCollections::Table)
                    .if_not_exists()
                    .col(uuid(PersonaCollections::PersonaId))
                    .col(uuid(PersonaCollections::CollectionId))
                    .col(uuid(PersonaCollections::OrgId))
                    .col(integer(PersonaCollections::Position))
                    .primary_key(
                        Index::create().col(PersonaCollections::PersonaId).col(PersonaCollections::CollectionId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PersonaCollections::Table, PersonaCollections::PersonaId)
                            .to(Personas::Table, Personas::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PersonaCollections::Table, PersonaCollections::CollectionId)
                            .to(Collections::Table, Collections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The cascade from `collections` looks rows up by collection.
        manager
            .create_index(
                Index::create()
                    .name("idx_persona_collections_collection")
                    .table(PersonaCollections::Table)
                    .col(PersonaCollections::CollectionId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["persona_collections", "personas"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Personas {
    Table,
    Id,
    OrgId,
    Name,
    Description,
    Tone,
    Instructions,
    TeachingMode,
    Greeting,
    AvatarId,
    Model,
    Temperature,
    MaxTokens,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PersonaCollections {
    Table,
    PersonaId,
    CollectionId,
    OrgId,
    Position,
}

#[derive(DeriveIden)]
enum Collections {
    Table,
    Id,
}
