//! sea-orm queries of the accounts tables: organisations, users, refresh tokens, invitations, API keys and the
//! audit log. Scoped by org wherever a row belongs to one.

mod audit_log;
mod invitations;
mod keys;

pub use audit_log::*;
pub use invitations::*;
pub use keys::*;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, ModelTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::entities::{org, refresh_token, user};
use super::views::{Role, UserFilter, UserView};
use crate::pagination::{Page, PageQuery};

pub async fn user_by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find().filter(user::Column::Email.eq(email)).one(db).await
}

/// A user of `org_id`; another org's id is simply absent.
pub async fn user_in_org(db: &impl ConnectionTrait, org_id: Uuid, id: Uuid) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id).filter(user::Column::OrgId.eq(org_id)).one(db).await
}

pub async fn user_by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id).one(db).await
}

pub async fn org(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<org::Model>, DbErr> {
    org::Entity::find_by_id(id).one(db).await
}

/// Whether the instance has any organisation yet (first-run bootstrap).
pub async fn any_org(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    Ok(org::Entity::find().one(db).await?.is_some())
}

pub async fn insert_org(db: &impl ConnectionTrait, id: Uuid, name: String, now: DateTime<Utc>) -> Result<(), DbErr> {
    org::ActiveModel { id: Set(id), name: Set(name), plan: Set("free".into()), created_at: Set(now) }
        .insert(db)
        .await?;
    Ok(())
}

/// A new account, signed in from the start (`last_login_at` = now).
pub struct NewUser {
    pub org_id: Uuid,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
}

pub async fn insert_user(db: &impl ConnectionTrait, new: NewUser, now: DateTime<Utc>) -> Result<user::Model, DbErr> {
    user::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(new.org_id),
        email: Set(new.email),
        name: Set(new.name),
        password_hash: Set(new.password_hash),
        role: Set(new.role.as_str().into()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(Some(now)),
    }
    .insert(db)
    .await
}

pub async fn touch_login(db: &impl ConnectionTrait, account: &user::Model) -> Result<(), DbErr> {
    let mut touched: user::ActiveModel = account.clone().into();
    touched.last_login_at = Set(Some(Utc::now()));
    touched.update(db).await?;
    Ok(())
}

/// The changes an admin may make to a user; `None` leaves a column as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

pub async fn update_user(
    db: &impl ConnectionTrait,
    target: user::Model,
    changes: UserChanges,
) -> Result<user::Model, DbErr> {
    let mut row: user::ActiveModel = target.into();
    if let Some(name) = changes.name {
        row.name = Set(name);
    }
    if let Some(role) = changes.role {
        row.role = Set(role.as_str().into());
    }
    if let Some(active) = changes.active {
        row.active = Set(active);
    }
    row.updated_at = Set(Utc::now());
    row.update(db).await
}

/// The account and its refresh tokens.
pub async fn delete_user(db: &impl ConnectionTrait, target: user::Model) -> Result<(), DbErr> {
    refresh_token::Entity::delete_many().filter(refresh_token::Column::UserId.eq(target.id)).exec(db).await?;
    target.delete(db).await?;
    Ok(())
}

pub async fn users_page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    filter: &UserFilter,
    page: &PageQuery,
) -> Result<Page<UserView>, DbErr> {
    let mut query = user::Entity::find().filter(user::Column::OrgId.eq(org_id));
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
        query = query.filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(user::Column::Name))).like(pattern.clone()))
                .add(user::Column::Email.like(pattern)),
        );
    }
    if let Some(role) = filter.role {
        query = query.filter(user::Column::Role.eq(role.as_str()));
    }
    Page::fetch(query.order_by_asc(user::Column::Name), db, page, UserView::from).await
}

pub async fn insert_refresh_token(
    db: &impl ConnectionTrait,
    account: &user::Model,
    family_id: Uuid,
    token_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        family_id: Set(family_id),
        user_id: Set(account.id),
        org_id: Set(account.org_id),
        token_hash: Set(token_hash),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn refresh_token_by_hash(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<refresh_token::Model>, DbErr> {
    refresh_token::Entity::find().filter(refresh_token::Column::TokenHash.eq(token_hash)).one(db).await
}

/// Marks the token used, unless it was used or revoked already: of two concurrent uses, exactly one gets `true`,
/// and none does once a sign-out revoked it.
pub async fn claim_refresh_token(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::Id.eq(id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// Which refresh tokens to revoke.
#[derive(Debug, Clone, Copy)]
pub enum Tokens {
    Family(Uuid),
    User(Uuid),
    UserFamily { user_id: Uuid, family_id: Uuid },
}

pub async fn revoke_refresh_tokens(db: &impl ConnectionTrait, which: Tokens) -> Result<(), DbErr> {
    let condition = match which {
        Tokens::Family(family) => Condition::all().add(refresh_token::Column::FamilyId.eq(family)),
        Tokens::User(user) => Condition::all().add(refresh_token::Column::UserId.eq(user)),
        Tokens::UserFamily { user_id, family_id } => Condition::all()
            .add(refresh_token::Column::UserId.eq(user_id))
            .add(refresh_token::Column::FamilyId.eq(family_id)),
    };
    // Twice: a refresh that held the family's token while the first pass waited for it has committed by the time
    // that pass ends, and its successor was not in the first pass's snapshot (PostgreSQL); the second pass, a new
    // statement, sees and revokes it.
    for _ in 0..2 {
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(condition.clone())
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The names of those of `ids` that are people of `org_id`.
/// The org's people among `ids`, whole (a deleted account is absent).
pub async fn users_by_ids(db: &impl ConnectionTrait, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

/// Every organisation: id and name.
pub async fn orgs(db: &impl ConnectionTrait) -> Result<Vec<(Uuid, String)>, DbErr> {
    crate::auth::entities::org::Entity::find()
        .select_only()
        .column(crate::auth::entities::org::Column::Id)
        .column(crate::auth::entities::org::Column::Name)
        .into_tuple()
        .all(db)
        .await
}

/// Every person of `org_id` with `role`, by name.
pub async fn users_with_role(db: &impl ConnectionTrait, org_id: Uuid, role: &str) -> Result<Vec<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Role.eq(role))
        .order_by_asc(user::Column::Name)
        .all(db)
        .await
}

pub async fn user_names(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>, DbErr> {
    let rows = user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|u| (u.id, u.name)).collect())
}
