//! Classes: a group of an organisation's teachers and students, and the tutors it uses. Teachers see and manage the
//! classes they teach; what analytics shows a teacher is scoped by them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Classes::Table)
                    .if_not_exists()
                    .col(uuid(Classes::Id).primary_key())
                    .col(uuid(Classes::OrgId))
                    .col(string_len(Classes::Name, 120))
                    .col(text(Classes::Description).default(""))
                    .col(uuid(Classes::CreatedBy))
                    .col(timestamp_with_time_zone(Classes::CreatedAt))
                    .col(timestamp_with_time_zone(Classes::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_classes_org_name")
                    .table(Classes::Table)
                    .col(Classes::OrgId)
                    .col(Classes::Name)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ClassMembers::Table)
                    .if_not_exists()
                    .col(uuid(ClassMembers::ClassId))
                    .col(uuid(ClassMembers::UserId))
                    .col(uuid(ClassMembers::OrgId))
                    // `teacher` or `student`: what the member does in this class.
                    .col(string_len(ClassMembers::Role, 16))
                    .primary_key(Index::create().col(ClassMembers::ClassId).col(ClassMembers::UserId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ClassMembers::Table, ClassMembers::ClassId)
                            .to(Classes::Table, Classes::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // "Which classes is this person in" reads by user.
        manager
            .create_index(
                Index::create()
                    .name("idx_class_members_user")
                    .table(ClassMembers::Table)
                    .col(ClassMembers::UserId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ClassPersonas::Table)
                    .if_not_exists()
                    .col(uuid(ClassPersonas::ClassId))
                    .col(uuid(ClassPersonas::PersonaId))
                    .col(uuid(ClassPersonas::OrgId))
                    .primary_key(Index::create().col(ClassPersonas::ClassId).col(ClassPersonas::PersonaId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ClassPersonas::Table, ClassPersonas::ClassId)
                            .to(Classes::Table, Classes::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // An invitation may name the class its invitee joins on accepting.
        manager
            .alter_table(
                Table::alter()
                    .table(Invitations::Table)
                    .add_column_if_not_exists(uuid_null(Invitations::ClassId))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Invitations::Table).drop_column(Invitations::ClassId).to_owned())
            .await?;
        for table in ["class_personas", "class_members", "classes"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Classes {
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
enum Invitations {
    Table,
    ClassId,
}

#[derive(DeriveIden)]
enum ClassMembers {
    Table,
    ClassId,
    UserId,
    OrgId,
    Role,
}

#[derive(DeriveIden)]
enum ClassPersonas {
    Table,
    ClassId,
    PersonaId,
    OrgId,
}
