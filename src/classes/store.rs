//! sea-orm queries of the class tables, scoped by org.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::entities::{class, class_member, class_persona};
use crate::pagination::{Page, PageQuery};

pub async fn class_in_org(db: &impl ConnectionTrait, org_id: Uuid, id: Uuid) -> Result<Option<class::Model>, DbErr> {
    class::Entity::find_by_id(id).filter(class::Column::OrgId.eq(org_id)).one(db).await
}

/// One page of the org's classes by name; with `member`, only those this person is in.
pub async fn classes_page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    member: Option<Uuid>,
    page: &PageQuery,
) -> Result<Page<class::Model>, DbErr> {
    let mut query = class::Entity::find().filter(class::Column::OrgId.eq(org_id));
    if let Some(user_id) = member {
        let ids: Vec<Uuid> = class_member::Entity::find()
            .select_only()
            .column(class_member::Column::ClassId)
            .filter(class_member::Column::OrgId.eq(org_id))
            .filter(class_member::Column::UserId.eq(user_id))
            .into_tuple()
            .all(db)
            .await?;
        query = query.filter(class::Column::Id.is_in(ids));
    }
    let query = query.order_by_asc(class::Column::Name).order_by_asc(class::Column::Id);
    Page::fetch(query, db, page, |row| row).await
}

pub async fn members(db: &impl ConnectionTrait, classes: &[Uuid]) -> Result<Vec<class_member::Model>, DbErr> {
    class_member::Entity::find().filter(class_member::Column::ClassId.is_in(classes.iter().copied())).all(db).await
}

pub async fn persona_ids(db: &impl ConnectionTrait, classes: &[Uuid]) -> Result<HashMap<Uuid, Vec<Uuid>>, DbErr> {
    let rows = class_persona::Entity::find()
        .filter(class_persona::Column::ClassId.is_in(classes.iter().copied()))
        .order_by_asc(class_persona::Column::PersonaId)
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for row in rows {
        out.entry(row.class_id).or_default().push(row.persona_id);
    }
    Ok(out)
}

pub async fn insert_class(db: &impl ConnectionTrait, row: class::Model) -> Result<(), DbErr> {
    class::ActiveModel::from(row).insert(db).await?;
    Ok(())
}

pub async fn update_class(db: &impl ConnectionTrait, row: class::Model) -> Result<(), DbErr> {
    class::ActiveModel {
        id: sea_orm::Unchanged(row.id),
        name: Set(row.name),
        description: Set(row.description),
        updated_at: Set(row.updated_at),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Replaces the class's members: `(user, role)`.
pub async fn set_members(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    class_id: Uuid,
    members: &[(Uuid, &'static str)],
) -> Result<(), DbErr> {
    class_member::Entity::delete_many().filter(class_member::Column::ClassId.eq(class_id)).exec(db).await?;
    if members.is_empty() {
        return Ok(());
    }
    let rows = members.iter().map(|(user_id, role)| class_member::ActiveModel {
        class_id: Set(class_id),
        user_id: Set(*user_id),
        org_id: Set(org_id),
        role: Set((*role).to_owned()),
    });
    class_member::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

pub async fn add_member(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    class_id: Uuid,
    user_id: Uuid,
    role: &'static str,
) -> Result<(), DbErr> {
    class_member::ActiveModel {
        class_id: Set(class_id),
        user_id: Set(user_id),
        org_id: Set(org_id),
        role: Set(role.to_owned()),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn set_personas(db: &impl ConnectionTrait, org_id: Uuid, class_id: Uuid, ids: &[Uuid]) -> Result<(), DbErr> {
    class_persona::Entity::delete_many().filter(class_persona::Column::ClassId.eq(class_id)).exec(db).await?;
    if ids.is_empty() {
        return Ok(());
    }
    let rows = ids.iter().map(|persona_id| class_persona::ActiveModel {
        class_id: Set(class_id),
        persona_id: Set(*persona_id),
        org_id: Set(org_id),
    });
    class_persona::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

/// The class and (by cascade) its members and personas.
pub async fn delete_class(db: &impl ConnectionTrait, org_id: Uuid, id: Uuid) -> Result<(), DbErr> {
    class::Entity::delete_many()
        .filter(class::Column::Id.eq(id))
        .filter(class::Column::OrgId.eq(org_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The students of every class `teacher` teaches.
pub async fn students_taught_by(db: &impl ConnectionTrait, org_id: Uuid, teacher: Uuid) -> Result<Vec<Uuid>, DbErr> {
    classmates(db, org_id, teacher, "teacher", "student").await
}

/// The teachers of every class `student` is in.
pub async fn teachers_of(db: &impl ConnectionTrait, org_id: Uuid, student: Uuid) -> Result<Vec<Uuid>, DbErr> {
    classmates(db, org_id, student, "student", "teacher").await
}

/// The members with role `theirs` of every class where `user` has role `mine`, each once.
async fn classmates(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    user: Uuid,
    mine: &str,
    theirs: &str,
) -> Result<Vec<Uuid>, DbErr> {
    let classes: Vec<Uuid> = class_member::Entity::find()
        .select_only()
        .column(class_member::Column::ClassId)
        .filter(class_member::Column::OrgId.eq(org_id))
        .filter(class_member::Column::UserId.eq(user))
        .filter(class_member::Column::Role.eq(mine))
        .into_tuple()
        .all(db)
        .await?;
    class_member::Entity::find()
        .select_only()
        .column(class_member::Column::UserId)
        .distinct()
        .filter(class_member::Column::ClassId.is_in(classes))
        .filter(class_member::Column::Role.eq(theirs))
        .into_tuple()
        .all(db)
        .await
}

/// Every membership of every class of the org.
pub async fn org_members(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Vec<class_member::Model>, DbErr> {
    class_member::Entity::find().filter(class_member::Column::OrgId.eq(org_id)).all(db).await
}

pub async fn remove_member_everywhere(db: &impl ConnectionTrait, org_id: Uuid, user_id: Uuid) -> Result<u64, DbErr> {
    let done = class_member::Entity::delete_many()
        .filter(class_member::Column::OrgId.eq(org_id))
        .filter(class_member::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}
