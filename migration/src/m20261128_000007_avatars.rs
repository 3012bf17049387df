//! Avatars: each organisation's validated 3D models (the file itself lives in the object store), what the server
//! learned of each (clips, morph targets, counts, bounds) and its cue → clip mapping; and `avatar_orgs`, which
//! records that an organisation has been offered the sample avatar, so deleting the sample keeps it deleted.
//!
//! `personas.avatar_id` gets no foreign key: SQLite cannot add one to an existing table without rebuilding it, so
//! the avatar domain keeps the link honest itself (a persona may only name its org's avatar; deleting a linked
//! avatar is refused, or unlinks it when forced).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Avatars::Table)
                    .if_not_exists()
                    .col(uuid(Avatars::Id).primary_key())
                    .col(uuid(Avatars::OrgId))
                    .col(string_len(Avatars::Name, 120))
                    .col(string_len(Avatars::FileName, 255))
                    .col(string_len(Avatars::Format, 8))
                    .col(big_integer(Avatars::SizeBytes))
                    .col(string_len(Avatars::Sha256, 64))
                    .col(string_len(Avatars::StorageKey, 255))
                    .col(boolean(Avatars::Sample).default(false))
                    .col(json(Avatars::Animations))
                    .col(json(Avatars::MorphTargets))
                    .col(json(Avatars::Stats))
                    .col(json(Avatars::Mapping))
                    .col(uuid_null(Avatars::CreatedBy))
                    .col(timestamp_with_time_zone(Avatars::CreatedAt))
                    .col(timestamp_with_time_zone(Avatars::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_avatars_org_name")
                    .table(Avatars::Table)
                    .col(Avatars::OrgId)
                    .col(Avatars::Name)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AvatarOrgs::Table)
                    .if_not_exists()
                    .col(uuid(AvatarOrgs::OrgId).primary_key())
                    .col(timestamp_with_time_zone(AvatarOrgs::SampleOfferedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["avatar_orgs", "avatars"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Avatars {
    Table,
    Id,
    OrgId,
    Name,
    FileName,
    Format,
    SizeBytes,
    Sha256,
    StorageKey,
    Sample,
    Animations,
    MorphTargets,
    Stats,
    Mapping,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AvatarOrgs {
    Table,
    OrgId,
    SampleOfferedAt,
}
