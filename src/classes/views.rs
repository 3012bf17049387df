//! The classes domain's wire types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberView {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClassView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub teachers: Vec<MemberView>,
    /// The class's students; empty for a student caller (classmates are not listed to students).
    pub students: Vec<MemberView>,
    pub student_count: u64,
    /// The tutors the class uses (a deleted tutor drops out).
    pub persona_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClass {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Teachers or admins of the organisation. A teacher who creates a class teaches it.
    #[serde(default)]
    pub teacher_ids: Vec<Uuid>,
    #[serde(default)]
    pub student_ids: Vec<Uuid>,
    #[serde(default)]
    pub persona_ids: Vec<Uuid>,
}

/// Absent fields stay as they are; a list given replaces the whole list.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClass {
    pub name: Option<String>,
    pub description: Option<String>,
    pub teacher_ids: Option<Vec<Uuid>>,
    pub student_ids: Option<Vec<Uuid>>,
    pub persona_ids: Option<Vec<Uuid>>,
}
