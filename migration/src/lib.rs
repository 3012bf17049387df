//! Schema migrations, run at start-up and by `bwenge migrate`. Files are named `mYYYYMMDD_NNNNNN_what.rs`.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_jobs;
mod m20261124_000002_accounts;
mod m20261124_000003_knowledge;
mod m20261124_000004_personas;
mod m20261124_000005_chat;
mod m20261128_000006_session_titles;
mod m20261128_000007_avatars;
mod m20261128_000008_classes;
mod m20261128_000009_analytics;
mod m20261129_000010_org_totals;
mod m20261129_000011_billing;
mod m20261129_000012_streaming_answers;

/// The session-length bucket the org totals migration filled in (the app's own must agree; its tests check).
#[doc(hidden)]
pub use m20261129_000010_org_totals::bucket as session_length_bucket;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_jobs::Migration),
            Box::new(m20261124_000002_accounts::Migration),
            Box::new(m20261124_000003_knowledge::Migration),
            Box::new(m20261124_000004_personas::Migration),
            Box::new(m20261124_000005_chat::Migration),
            Box::new(m20261128_000006_session_titles::Migration),
            Box::new(m20261128_000007_avatars::Migration),
            Box::new(m20261128_000008_classes::Migration),
            Box::new(m20261128_000009_analytics::Migration),
            Box::new(m20261129_000010_org_totals::Migration),
            Box::new(m20261129_000011_billing::Migration),
            Box::new(m20261129_000012_streaming_answers::Migration),
        ]
    }
}
