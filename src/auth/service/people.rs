//! People of an organisation: list and search, change role, deactivate, delete; and invitations, by which
//! admins bring in teachers and students and teachers bring in students.
//!
//! Deleting a user removes their account, credentials and sessions at once. What they produced elsewhere follows
//! each domain's rule: their chat sessions and messages are deleted with them (a student's conversations are
//! personal data), content they uploaded stays with the organisation, and the audit log keeps their id (an opaque
//! UUID) but no name or email.
//!
//! An invitation's token is shown once to the inviter (who sends the link), stored hashed, single use, and
//! expires after 7 days.

use chrono::Utc;
use sea_orm::TransactionTrait;
use uuid::Uuid;

use super::{Audit, AuthService, bounded, normalize_email, require_text, unique_as_email_taken};
use crate::auth::entities::user;
use crate::auth::error::AuthError;
use crate::auth::extractors::{AuthUser, ClientIp, Credential};
use crate::auth::store::{self, NewInvitation, NewUser, Tokens, UserChanges};
use crate::auth::views::{
    AcceptInvitation, CreateInvitation, InvitationCreated, InvitationView, NAME_MAX, QUERY_MAX, Role, TOKEN_MAX,
    TokenResponse, UpdateUser, UserFilter, UserView,
};
use crate::auth::{password, secrets};
use crate::billing::Quota;
use crate::pagination::{Page, PageQuery};

const INVITATION_DAYS: i64 = 7;

/// Someone another domain writes to or lists.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub active: bool,
}

impl AuthService {
    pub async fn list_users(
        &self,
        caller: &AuthUser,
        filter: &UserFilter,
        page: &PageQuery,
    ) -> Result<Page<UserView>, AuthError> {
        if let Some(q) = &filter.q {
            bounded("q", q, QUERY_MAX)?;
        }
        Ok(store::users_page(&self.backends.db, caller.org_id, filter, page).await?)
    }

    /// The names of the org's people among `ids` (a deleted account is absent), for lists that show them.
    pub async fn names(
        &self,
        org_id: Uuid,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, String>, AuthError> {
        Ok(store::user_names(&self.backends.db, org_id, ids).await?)
    }

    /// The name and role of the org's people among `ids` (a deleted account is absent), for domains that group
    /// people (classes).
    pub async fn people(
        &self,
        org_id: Uuid,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, (String, Role)>, AuthError> {
        let rows = store::users_by_ids(&self.backends.db, org_id, ids).await?;
        Ok(rows.into_iter().filter_map(|u| Role::parse(&u.role).map(|role| (u.id, (u.name, role)))).collect())
    }

    /// Every person of `org_id` with `role` (id, name, email, active), by name: for the dashboards' and reports'
    /// lists of students and the admins a report or an alert may go to.
    pub async fn with_role(&self, org_id: Uuid, role: Role) -> Result<Vec<Person>, AuthError> {
        let rows = store::users_with_role(&self.backends.db, org_id, role.as_str()).await?;
        Ok(rows.into_iter().map(|u| Person { id: u.id, name: u.name, email: u.email, active: u.active }).collect())
    }

    /// Every organisation of the instance (id, name), for jobs that run per org.
    pub async fn orgs(&self) -> Result<Vec<(Uuid, String)>, AuthError> {
        Ok(store::orgs(&self.backends.db).await?)
    }

    /// The org's people among `ids`, with their email (a deleted account is absent), for mail.
    pub async fn contacts(&self, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Person>, AuthError> {
        let rows = store::users_by_ids(&self.backends.db, org_id, ids).await?;
        Ok(rows.into_iter().map(|u| Person { id: u.id, name: u.name, email: u.email, active: u.active }).collect())
    }

    /// A user of `org_id`. Another org's id is simply not found.
    async fn user_in_org(&self, org_id: Uuid, id: Uuid) -> Result<user::Model, AuthError> {
        store::user_in_org(&self.backends.db, org_id, id).await?.ok_or(AuthError::NotFound("user"))
    }

    pub async fn get_user(&self, caller: &AuthUser, id: Uuid) -> Result<UserView, AuthError> {
        Ok(UserView::from(self.user_in_org(caller.org_id, id).await?))
    }

    pub async fn update_user(
        &self,
        caller: &AuthUser,
        ip: &ClientIp,
        id: Uuid,
        body: UpdateUser,
    ) -> Result<UserView, AuthError> {
        let target = self.user_in_org(caller.org_id, id).await?;
        if target.id == caller.user_id && (body.role.is_some_and(|r| r != Role::Admin) || body.active == Some(false)) {
            // Keeps at least the acting admin in charge; another admin can demote them.
            return Err(AuthError::Conflict("admins cannot demote or deactivate themselves".into()));
        }
        let name = body.name.as_deref().map(|n| require_text("name", n, NAME_MAX)).transpose()?;
        let changes = UserChanges { name, role: body.role, active: body.active };
        let db = &self.backends.db;
        let updated = store::update_user(db, target.clone(), changes).await?;
        if body.role.is_some_and(|r| r.as_str() != target.role) {
            let details = serde_json::json!({ "from": target.role, "to": updated.role });
            self.audit(Audit::by(caller, ip, "user.role_changed").target("user", target.id).details(details)).await;
        }
        if let Some(active) = body.active.filter(|a| *a != target.active) {
            if !active {
                store::revoke_refresh_tokens(db, Tokens::User(target.id)).await?;
            }
            let action = if active { "user.reactivated" } else { "user.deactivated" };
            self.audit(Audit::by(caller, ip, action).target("user", target.id)).await;
        }
        if updated.role != target.role || !updated.active {
            // Their live tokens and sockets carry the old role (or none is valid any more).
            self.access_changed(Some(target.id), None).await;
        }
        Ok(UserView::from(updated))
    }

    pub async fn delete_user(&self, caller: &AuthUser, ip: &ClientIp, id: Uuid) -> Result<(), AuthError> {
        let target = self.user_in_org(caller.org_id, id).await?;
        if target.id == caller.user_id {
            return Err(AuthError::Conflict("admins cannot delete themselves".into()));
        }
        let target_id = target.id;
        // Their data first: if erasing fails, the account is still there and deleting again finishes the job.
        self.erase_user_data(target.org_id, target.id).await?;
        let org_id = target.org_id;
        store::delete_user(&self.backends.db, target).await?;
        self.billing.release(org_id, Quota::Seats).await?;
        self.access_changed(Some(target_id), None).await;
        self.audit(Audit::by(caller, ip, "user.deleted").target("user", target_id)).await;
        Ok(())
    }

    pub async fn invite(
        &self,
        caller: &AuthUser,
        ip: &ClientIp,
        body: CreateInvitation,
    ) -> Result<InvitationCreated, AuthError> {
        // Keys manage content, never people: an invitation makes an account.
        if matches!(caller.credential, Credential::ApiKey { .. }) {
            return Err(AuthError::Forbidden("API keys cannot invite people; an admin or teacher signs in to".into()));
        }
        let allowed = match caller.role {
            Role::Admin => matches!(body.role, Role::Teacher | Role::Student),
            Role::Teacher => body.role == Role::Student,
            Role::Student => false,
        };
        if !allowed {
            return Err(AuthError::Forbidden(format!(
                "a {} cannot invite a {}",
                caller.role.as_str(),
                body.role.as_str()
            )));
        }
        let email = normalize_email(&body.email)?;
        if let Some(class_id) = body.class_id {
            let allowed = match self.enrolment() {
                Some(classes) => classes.may_enrol(caller, class_id).await?,
                None => false,
            };
            if !allowed {
                return Err(AuthError::UnknownClass(class_id));
            }
        }
        self.billing.ensure_room(caller.org_id, Some(caller.user_id), Quota::Seats).await?;
        let db = &self.backends.db;
        // Only this org's own accounts are named: an address with an account in another org is invited like a new
        // one, since saying so would tell one school who uses the platform at another. The invitee, who owns the
        // address, learns it on accepting.
        if store::user_by_email(db, &email).await?.is_some_and(|u| u.org_id == caller.org_id) {
            return Err(AuthError::EmailTaken);
        }
        let token = secrets::generate("inv_");
        let expires_at = Utc::now() + chrono::Duration::days(INVITATION_DAYS);
        let row = store::insert_invitation(
            db,
            NewInvitation {
                org_id: caller.org_id,
                email: email.clone(),
                role: body.role,
                token_hash: secrets::digest(&token),
                invited_by: caller.user_id,
                expires_at,
                class_id: body.class_id,
            },
        )
        .await?;
        let details = serde_json::json!({ "email": email, "role": body.role });
        self.audit(Audit::by(caller, ip, "invitation.created").target("invitation", row.id).details(details)).await;
        Ok(InvitationCreated { id: row.id, email, role: body.role, token, expires_at })
    }

    /// Invitations waiting to be accepted: all of them for an admin, the student ones (those they may make) for a
    /// teacher.
    pub async fn list_invitations(
        &self,
        caller: &AuthUser,
        page: &PageQuery,
    ) -> Result<Page<InvitationView>, AuthError> {
        let role = (caller.role != Role::Admin).then_some(Role::Student);
        Ok(store::pending_invitations(&self.backends.db, caller.org_id, role, page).await?)
    }

    /// Revokes a pending invitation: its link stops working. Teachers revoke student invitations only.
    pub async fn revoke_invitation(&self, caller: &AuthUser, ip: &ClientIp, id: Uuid) -> Result<(), AuthError> {
        if matches!(caller.credential, Credential::ApiKey { .. }) {
            return Err(AuthError::Forbidden("API keys cannot manage invitations".into()));
        }
        let role = (caller.role != Role::Admin).then_some(Role::Student);
        let revoked = store::delete_pending_invitation(&self.backends.db, caller.org_id, id, role)
            .await?
            .ok_or(AuthError::NotFound("invitation"))?;
        let details = serde_json::json!({ "email": revoked.email, "role": revoked.role });
        self.audit(Audit::by(caller, ip, "invitation.revoked").target("invitation", id).details(details)).await;
        Ok(())
    }

    /// Sets the invitee's name and password, creates their account in the inviting org, and signs them in.
    pub async fn accept_invitation(
        &self,
        token: &str,
        ip: &ClientIp,
        body: AcceptInvitation,
    ) -> Result<TokenResponse, AuthError> {
        self.limit_ip(ip).await?;
        if token.len() > TOKEN_MAX {
            return Err(AuthError::InvalidInvitation);
        }
        let now = Utc::now();
        let db = &self.backends.db;
        let invite = store::invitation_by_hash(db, &secrets::digest(token.trim()))
            .await?
            .filter(|i| i.accepted_at.is_none() && i.expires_at > now)
            .ok_or(AuthError::InvalidInvitation)?;
        let name = require_text("name", &body.name, NAME_MAX)?;
        password::check_policy(&body.password, &[&invite.email, &name]).map_err(AuthError::WeakPassword)?;
        let role = Role::parse(&invite.role)
            .ok_or_else(|| anyhow::anyhow!("invitation {} has an unknown role {}", invite.id, invite.role))?;
        let password_hash = password::hash(body.password).await?;
        // The seat is taken first (concurrent acceptances cannot pass the plan's limit) and given back if the
        // account is not made.
        self.billing.reserve(invite.org_id, None, Quota::Seats).await?;
        let created = async {
            let txn = db.begin().await?;
            if !store::claim_invitation(&txn, invite.id, now).await? {
                return Err(AuthError::InvalidInvitation);
            }
            let new = NewUser { org_id: invite.org_id, email: invite.email.clone(), name, password_hash, role };
            let account = store::insert_user(&txn, new, now).await.map_err(unique_as_email_taken)?;
            txn.commit().await?;
            Ok(account)
        }
        .await;
        let account = match created {
            Ok(account) => account,
            Err(err) => {
                self.billing.release(invite.org_id, Quota::Seats).await?;
                return Err(err);
            }
        };
        // The account exists whatever happens here: a class that went meanwhile only means no enrolment.
        if let (Some(class_id), Some(classes)) = (invite.class_id, self.enrolment())
            && let Err(err) = classes.enrol(account.org_id, account.id, role, class_id).await
        {
            tracing::warn!(error = ?err, %class_id, "could not put an invitee in their class");
        }
        let entry = Audit::in_org(Some(invite.org_id), Some(account.id), ip, "invitation.accepted")
            .target("invitation", invite.id);
        self.audit(entry).await;
        self.issue_tokens(&self.backends.db, &account, None).await
    }
}
