//! The classes domain's API. Admins see and change every class of their org; teachers the classes they teach;
//! students see the classes they are in. A class the caller may not see is simply not found.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::Utc;
use sea_orm::TransactionTrait;
use uuid::Uuid;

use super::entities::{class, class_member};
use super::error::ClassError;
use super::oversight::OversightPolicy;
use super::store;
use super::views::{ClassView, CreateClass, MemberView, UpdateClass};
use crate::auth::{Audit, AuthService, AuthUser, ClientIp, Enrolment, Role, UserData};
use crate::pagination::{Page, PageQuery};
use crate::persona::PersonaService;
use crate::platform::Backends;

const NAME_MAX: usize = 120;
const DESCRIPTION_MAX: usize = 2000;
const TEACHER: &str = "teacher";
const STUDENT: &str = "student";

#[derive(Clone)]
pub struct ClassService {
    pub(super) backends: Backends,
    auth: AuthService,
    personas: PersonaService,
    /// The org settings on what teachers may read (see `oversight`).
    pub(super) policy: Arc<RwLock<Option<Arc<dyn OversightPolicy>>>>,
}

/// The checked fields of a class.
struct Fields {
    name: String,
    description: String,
    members: Vec<(Uuid, &'static str)>,
    persona_ids: Vec<Uuid>,
}

fn unique(ids: &[Uuid]) -> Vec<Uuid> {
    let mut seen = Vec::with_capacity(ids.len());
    for id in ids {
        if !seen.contains(id) {
            seen.push(*id);
        }
    }
    seen
}

fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String, ClassError> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(ClassError::Required(field));
    }
    if value.chars().count() > max {
        return Err(ClassError::TooLong { field, max });
    }
    Ok(value.to_owned())
}

impl ClassService {
    pub fn new(backends: &Backends, auth: AuthService, personas: PersonaService) -> Self {
        Self { backends: backends.clone(), auth, personas, policy: Arc::default() }
    }

    /// Teachers must teach (an admin may too), students must be students; everyone must be the org's.
    async fn members(
        &self,
        org_id: Uuid,
        teachers: &[Uuid],
        students: &[Uuid],
    ) -> Result<Vec<(Uuid, &'static str)>, ClassError> {
        let (teachers, students) = (unique(teachers), unique(students));
        let all: Vec<Uuid> = teachers.iter().chain(&students).copied().collect();
        let people = self.auth.people(org_id, &all).await?;
        let unknown: Vec<Uuid> = all.iter().filter(|id| !people.contains_key(id)).copied().collect();
        if !unknown.is_empty() {
            return Err(ClassError::UnknownUsers(unknown));
        }
        let mut members = Vec::with_capacity(all.len());
        for id in teachers {
            let (name, role) = &people[&id];
            if *role == Role::Student {
                return Err(ClassError::WrongRole(format!("{name} is a student and cannot teach a class")));
            }
            members.push((id, TEACHER));
        }
        for id in students {
            let (name, role) = &people[&id];
            if *role != Role::Student {
                return Err(ClassError::WrongRole(format!("{name} is not a student")));
            }
            if members.iter().any(|(member, _)| *member == id) {
                return Err(ClassError::WrongRole(format!("{name} is listed as a teacher and a student")));
            }
            members.push((id, STUDENT));
        }
        Ok(members)
    }

    async fn check_personas(&self, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Uuid>, ClassError> {
        let ids = unique(ids);
        let known = self.personas.names(org_id, &ids).await?;
        let unknown: Vec<Uuid> = ids.iter().filter(|id| !known.contains_key(id)).copied().collect();
        if unknown.is_empty() { Ok(ids) } else { Err(ClassError::UnknownPersonas(unknown)) }
    }

    /// The class if the caller may see it: any for an admin, else one they are a member of.
    async fn visible(
        &self,
        caller: &AuthUser,
        id: Uuid,
    ) -> Result<(class::Model, Vec<class_member::Model>), ClassError> {
        let db = &self.backends.db;
        let row = store::class_in_org(db, caller.org_id, id).await?.ok_or(ClassError::NotFound)?;
        let members = store::members(db, &[row.id]).await?;
        let member = members.iter().any(|m| m.user_id == caller.user_id);
        if caller.role == Role::Admin || member { Ok((row, members)) } else { Err(ClassError::NotFound) }
    }

    /// The class if the caller may change it: an admin, or one of its teachers.
    async fn managed(
        &self,
        caller: &AuthUser,
        id: Uuid,
    ) -> Result<(class::Model, Vec<class_member::Model>), ClassError> {
        let (row, members) = self.visible(caller, id).await?;
        let teaches = members.iter().any(|m| m.user_id == caller.user_id && m.role == TEACHER);
        if caller.role == Role::Admin || teaches { Ok((row, members)) } else { Err(ClassError::NotTeacher) }
    }

    async fn views(&self, caller: &AuthUser, rows: Vec<class::Model>) -> Result<Vec<ClassView>, ClassError> {
        let db = &self.backends.db;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let members = store::members(db, &ids).await?;
        let mut personas = store::persona_ids(db, &ids).await?;
        let people: Vec<Uuid> = unique(&members.iter().map(|m| m.user_id).collect::<Vec<_>>());
        let names = self.auth.names(caller.org_id, &people).await?;
        let all_personas: Vec<Uuid> = personas.values().flatten().copied().collect();
        let live_personas = self.personas.names(caller.org_id, &all_personas).await?;
        let mut by_class: HashMap<Uuid, Vec<class_member::Model>> = HashMap::new();
        for member in members {
            by_class.entry(member.class_id).or_default().push(member);
        }
        let staff = caller.role.at_least(Role::Teacher);
        Ok(rows
            .into_iter()
            .map(|row| {
                let members = by_class.remove(&row.id).unwrap_or_default();
                let named = |role: &str| -> Vec<MemberView> {
                    let mut list: Vec<MemberView> = members
                        .iter()
                        .filter(|m| m.role == role)
                        .filter_map(|m| {
                            names.get(&m.user_id).map(|name| MemberView { id: m.user_id, name: name.clone() })
                        })
                        .collect();
                    list.sort_by(|a, b| a.name.cmp(&b.name));
                    list
                };
                let students = named(STUDENT);
                let persona_ids = personas.remove(&row.id).unwrap_or_default();
                ClassView {
                    id: row.id,
                    name: row.name,
                    description: row.description,
                    teachers: named(TEACHER),
                    student_count: students.len() as u64,
                    students: if staff { students } else { Vec::new() },
                    persona_ids: persona_ids.into_iter().filter(|id| live_personas.contains_key(id)).collect(),
                    created_at: row.created_at,
                    updated_at: row.updated_at,
                }
            })
            .collect())
    }

    async fn view(&self, caller: &AuthUser, row: class::Model) -> Result<ClassView, ClassError> {
        Ok(self.views(caller, vec![row]).await?.remove(0))
    }

    pub async fn create(&self, caller: &AuthUser, body: CreateClass) -> Result<ClassView, ClassError> {
        let mut teachers = body.teacher_ids;
        // A teacher who makes a class teaches it (else they could not see it); an admin sees every class anyway.
        if caller.role == Role::Teacher && !teachers.contains(&caller.user_id) {
            teachers.insert(0, caller.user_id);
        }
        let fields = Fields {
            name: text("name", &body.name, NAME_MAX, true)?,
            description: text("description", &body.description, DESCRIPTION_MAX, false)?,
            members: self.members(caller.org_id, &teachers, &body.student_ids).await?,
            persona_ids: self.check_personas(caller.org_id, &body.persona_ids).await?,
        };
        let now = Utc::now();
        let row = class::Model {
            id: Uuid::now_v7(),
            org_id: caller.org_id,
            name: fields.name,
            description: fields.description,
            created_by: caller.user_id,
            created_at: now,
            updated_at: now,
        };
        let txn = self.backends.db.begin().await?;
        store::insert_class(&txn, row.clone()).await?;
        store::set_members(&txn, row.org_id, row.id, &fields.members).await?;
        store::set_personas(&txn, row.org_id, row.id, &fields.persona_ids).await?;
        txn.commit().await?;
        self.view(caller, row).await
    }

    pub async fn list(&self, caller: &AuthUser, page: &PageQuery) -> Result<Page<ClassView>, ClassError> {
        let member = (caller.role != Role::Admin).then_some(caller.user_id);
        let rows = store::classes_page(&self.backends.db, caller.org_id, member, page).await?;
        let items = self.views(caller, rows.items).await?;
        Ok(Page::of(items, page, rows.total))
    }

    pub async fn get(&self, caller: &AuthUser, id: Uuid) -> Result<ClassView, ClassError> {
        let (row, _) = self.visible(caller, id).await?;
        self.view(caller, row).await
    }

    pub async fn update(&self, caller: &AuthUser, id: Uuid, body: UpdateClass) -> Result<ClassView, ClassError> {
        let (mut row, current) = self.managed(caller, id).await?;
        if let Some(name) = &body.name {
            row.name = text("name", name, NAME_MAX, true)?;
        }
        if let Some(description) = &body.description {
            row.description = text("description", description, DESCRIPTION_MAX, false)?;
        }
        let of = |role: &str| current.iter().filter(|m| m.role == role).map(|m| m.user_id).collect::<Vec<_>>();
        let members = match (&body.teacher_ids, &body.student_ids) {
            (None, None) => None,
            (teachers, students) => {
                let teachers = teachers.clone().unwrap_or_else(|| of(TEACHER));
                let students = students.clone().unwrap_or_else(|| of(STUDENT));
                Some(self.members(caller.org_id, &teachers, &students).await?)
            }
        };
        let personas = match &body.persona_ids {
            Some(ids) => Some(self.check_personas(caller.org_id, ids).await?),
            None => None,
        };
        row.updated_at = Utc::now();
        let txn = self.backends.db.begin().await?;
        store::update_class(&txn, row.clone()).await?;
        if let Some(members) = members {
            store::set_members(&txn, row.org_id, row.id, &members).await?;
        }
        if let Some(personas) = personas {
            store::set_personas(&txn, row.org_id, row.id, &personas).await?;
        }
        txn.commit().await?;
        self.view(caller, row).await
    }

    pub async fn delete(&self, caller: &AuthUser, ip: &ClientIp, id: Uuid) -> Result<(), ClassError> {
        let (row, _) = self.managed(caller, id).await?;
        store::delete_class(&self.backends.db, row.org_id, row.id).await?;
        let details = serde_json::json!({ "name": row.name });
        self.auth.audit(Audit::by(caller, ip, "class.deleted").target("class", id).details(details)).await;
        Ok(())
    }
}

/// An invitation may name a class: one the inviter manages; the invitee joins it on accepting.
#[async_trait::async_trait]
impl Enrolment for ClassService {
    async fn may_enrol(&self, inviter: &AuthUser, class_id: Uuid) -> anyhow::Result<bool> {
        match self.managed(inviter, class_id).await {
            Ok(_) => Ok(true),
            Err(ClassError::NotFound | ClassError::NotTeacher) => Ok(false),
            Err(other) => Err(anyhow::Error::new(other)),
        }
    }

    async fn enrol(&self, org_id: Uuid, user_id: Uuid, role: Role, class_id: Uuid) -> anyhow::Result<()> {
        let db = &self.backends.db;
        if store::class_in_org(db, org_id, class_id).await?.is_none() {
            return Ok(()); // deleted since the invitation was sent
        }
        let as_role = if role == Role::Student { STUDENT } else { TEACHER };
        store::add_member(db, org_id, class_id, user_id, as_role).await?;
        Ok(())
    }
}

/// A deleted person leaves every class.
#[async_trait::async_trait]
impl UserData for ClassService {
    async fn erase_user(&self, org_id: Uuid, user_id: Uuid) -> anyhow::Result<()> {
        store::remove_member_everywhere(&self.backends.db, org_id, user_id).await?;
        Ok(())
    }
}
