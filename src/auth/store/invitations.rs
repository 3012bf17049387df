//! Invitations: created by staff, claimed once by the invitee, listed while they wait, revoked.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::auth::entities::invitation;
use crate::auth::views::{InvitationView, Role};
use crate::pagination::{Page, PageQuery};

pub struct NewInvitation {
    pub org_id: Uuid,
    pub email: String,
    pub role: Role,
    pub token_hash: String,
    pub invited_by: Uuid,
    pub expires_at: DateTime<Utc>,
    pub class_id: Option<Uuid>,
}

pub async fn insert_invitation(db: &impl ConnectionTrait, new: NewInvitation) -> Result<invitation::Model, DbErr> {
    invitation::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(new.org_id),
        email: Set(new.email),
        role: Set(new.role.as_str().into()),
        token_hash: Set(new.token_hash),
        invited_by: Set(new.invited_by),
        expires_at: Set(new.expires_at),
        accepted_at: Set(None),
        created_at: Set(Utc::now()),
        class_id: Set(new.class_id),
    }
    .insert(db)
    .await
}

pub async fn invitation_by_hash(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<invitation::Model>, DbErr> {
    invitation::Entity::find().filter(invitation::Column::TokenHash.eq(token_hash)).one(db).await
}

/// Single use even under a race: only one acceptance flips `accepted_at`.
pub async fn claim_invitation(db: &impl ConnectionTrait, id: Uuid, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let claimed = invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// The org's invitations not yet accepted (expired ones too, so they can be cleared away), newest first; with
/// `role`, only those of that role.
pub async fn pending_invitations(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    role: Option<Role>,
    page: &PageQuery,
) -> Result<Page<InvitationView>, DbErr> {
    let mut query = invitation::Entity::find()
        .filter(invitation::Column::OrgId.eq(org_id))
        .filter(invitation::Column::AcceptedAt.is_null());
    if let Some(role) = role {
        query = query.filter(invitation::Column::Role.eq(role.as_str()));
    }
    Page::fetch(query.order_by_desc(invitation::Column::Id), db, page, InvitationView::from).await
}

/// Deletes a pending invitation of `org_id` (of `role`, when given): its link stops working. `None` when there is
/// no such invitation waiting.
pub async fn delete_pending_invitation(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    id: Uuid,
    role: Option<Role>,
) -> Result<Option<invitation::Model>, DbErr> {
    let mut query = invitation::Entity::find()
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::OrgId.eq(org_id))
        .filter(invitation::Column::AcceptedAt.is_null());
    if let Some(role) = role {
        query = query.filter(invitation::Column::Role.eq(role.as_str()));
    }
    let Some(found) = query.one(db).await? else { return Ok(None) };
    // Only a row still pending goes: an acceptance that won the race keeps its record.
    let deleted = invitation::Entity::delete_many()
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .exec(db)
        .await?;
    Ok((deleted.rows_affected == 1).then_some(found))
}
