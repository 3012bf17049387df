//! Who oversees whom: the students a teacher or admin may see in analytics, the teachers a student's safety flag
//! goes to, and whether teachers may read transcripts (an org's oversight setting, which the analytics domain
//! keeps and registers here as an [`OversightPolicy`], so classes never asks analytics).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use super::error::ClassError;
use super::service::ClassService;
use super::store;
use crate::auth::{AuthUser, Credential, Role};

/// The org settings that narrow what teachers see.
#[async_trait]
pub trait OversightPolicy: Send + Sync + 'static {
    /// `false`: the org limits teachers to aggregates (no transcripts, no live watching).
    async fn teachers_read_transcripts(&self, org_id: Uuid) -> anyhow::Result<bool>;
}

impl ClassService {
    /// Registers the domain that keeps the org's oversight settings.
    pub fn oversight_by(&self, policy: Arc<dyn OversightPolicy>) {
        if let Ok(mut slot) = self.policy.write() {
            *slot = Some(policy);
        }
    }

    fn policy(&self) -> Option<Arc<dyn OversightPolicy>> {
        self.policy.read().ok().and_then(|slot| slot.clone())
    }

    /// Whose conversations `caller` may read besides their own: `None` for the whole org (admins, and API keys,
    /// which an admin made for the org's systems), else a teacher's classes' students, or nobody when the org
    /// limits teachers to aggregates. Students read only their own (the caller of this asks for staff only).
    pub async fn readable_students(&self, caller: &AuthUser) -> anyhow::Result<Option<Vec<Uuid>>> {
        if caller.role != Role::Teacher || matches!(caller.credential, Credential::ApiKey { .. }) {
            return Ok(None);
        }
        if let Some(policy) = self.policy()
            && !policy.teachers_read_transcripts(caller.org_id).await?
        {
            return Ok(Some(Vec::new()));
        }
        Ok(Some(store::students_taught_by(&self.backends.db, caller.org_id, caller.user_id).await?))
    }

    /// The students whose activity `caller` (staff) may see in analytics, narrowed to `class_id` if given:
    /// `None` for the whole org (an admin or an API key without a class). A class the caller may not see, or
    /// another org's, is not found.
    pub async fn overseen_students(
        &self,
        caller: &AuthUser,
        class_id: Option<Uuid>,
    ) -> Result<Option<Vec<Uuid>>, ClassError> {
        let db = &self.backends.db;
        let whole_org = caller.role == Role::Admin || matches!(caller.credential, Credential::ApiKey { .. });
        let Some(class_id) = class_id else {
            return Ok(if whole_org {
                None
            } else {
                Some(store::students_taught_by(db, caller.org_id, caller.user_id).await?)
            });
        };
        let class = store::class_in_org(db, caller.org_id, class_id).await?.ok_or(ClassError::NotFound)?;
        let members = store::members(db, &[class.id]).await?;
        let teaches = members.iter().any(|m| m.user_id == caller.user_id && m.role == "teacher");
        if !whole_org && !teaches {
            return Err(ClassError::NotFound);
        }
        Ok(Some(members.into_iter().filter(|m| m.role == "student").map(|m| m.user_id).collect()))
    }

    /// The teachers of every class `student` is in (a safety flag on their message goes to them).
    pub async fn teachers_of(&self, org_id: Uuid, student: Uuid) -> anyhow::Result<Vec<Uuid>> {
        Ok(store::teachers_of(&self.backends.db, org_id, student).await?)
    }

    /// Every teacher of the org's classes with the students they teach (the weekly report goes to each, scoped).
    pub async fn teachers_and_students(&self, org_id: Uuid) -> anyhow::Result<HashMap<Uuid, Vec<Uuid>>> {
        let rows = store::org_members(&self.backends.db, org_id).await?;
        let mut classes: HashMap<Uuid, (Vec<Uuid>, Vec<Uuid>)> = HashMap::new();
        for m in rows {
            let (teachers, students) = classes.entry(m.class_id).or_default();
            if m.role == "teacher" { teachers.push(m.user_id) } else { students.push(m.user_id) }
        }
        let mut taught: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (teachers, students) in classes.into_values() {
            for teacher in teachers {
                let list = taught.entry(teacher).or_default();
                list.extend(students.iter().copied());
                list.sort_unstable();
                list.dedup();
            }
        }
        Ok(taught)
    }
}
