//! sea-orm entities of the persona tables. Only the persona domain touches them.

pub mod persona {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "personas")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: Uuid,
        pub name: String,
        pub description: String,
        pub tone: String,
        pub instructions: String,
        pub teaching_mode: String,
        pub greeting: String,
        pub avatar_id: Option<Uuid>,
        pub model: Option<String>,
        pub temperature: f64,
        pub max_tokens: i32,
        pub created_by: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod persona_collection {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "persona_collections")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub persona_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub collection_id: Uuid,
        pub org_id: Uuid,
        /// The persona's order of its collections, as the teacher gave it.
        pub position: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
