//! sea-orm entities of the avatar tables. Only the avatar domain touches them.

pub mod avatar {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "avatars")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: Uuid,
        pub name: String,
        pub file_name: String,
        pub format: String,
        pub size_bytes: i64,
        pub sha256: String,
        pub storage_key: String,
        pub sample: bool,
        /// `[Clip]`
        pub animations: Json,
        /// `[String]`
        pub morph_targets: Json,
        /// `ModelStats`
        pub stats: Json,
        /// `{cue: clip}`
        pub mapping: Json,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One row per organisation that has been offered the sample avatar.
pub mod avatar_org {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "avatar_orgs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: Uuid,
        pub sample_offered_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
