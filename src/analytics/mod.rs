//! Learning analytics and oversight: the events every domain emits, recorded in batches off the request path;
//! dashboards over rollups; questions grouped by meaning (where a class is stuck, what the material misses);
//! weekly reports; safety flags and the alerts they send; the org's oversight settings. Teachers see their
//! classes' students (the classes domain says who), admins the whole org, students none of it.

mod cluster;
mod entities;
mod error;
mod recorder;
mod report;
mod routes;
pub mod service;
mod store;
pub mod views;
mod zones;

use std::sync::Arc;

use actix_web::web;
use utoipa::OpenApi;
use uuid::Uuid;

pub use error::AnalyticsError;
pub use recorder::Activity;
pub use service::AnalyticsService;

use crate::auth::{AuthService, UserData};
use crate::billing::BillingService;
use crate::chat::views::ChatActivity;
use crate::classes::ClassService;
use crate::ingest::IngestService;
use crate::persona::PersonaService;
use crate::platform::Backends;
use crate::platform::jobs::JobRegistry;

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::events::record,
        routes::dashboards::overview, routes::dashboards::students, routes::dashboards::student,
        routes::dashboards::persona, routes::dashboards::stuck, routes::dashboards::gaps,
        routes::reports::weekly,
        routes::alerts::list, routes::alerts::summary, routes::alerts::read, routes::alerts::read_all,
        routes::alerts::settings, routes::alerts::update_settings,
    ),
    tags((name = "analytics", description = "Learning analytics, weekly reports, safety alerts and oversight"))
)]
pub struct AnalyticsApi;

/// The other domains analytics asks.
pub struct Neighbours {
    pub auth: AuthService,
    pub billing: BillingService,
    pub classes: ClassService,
    pub personas: PersonaService,
    pub ingest: IngestService,
}

pub fn init(backends: &Backends, jobs: &mut JobRegistry, neighbours: Neighbours) -> anyhow::Result<AnalyticsService> {
    let default_zone = backends.config.analytics.default_time_zone.parse().map_err(|_| {
        anyhow::anyhow!(
            "analytics.default_time_zone {:?} is not an IANA time zone",
            backends.config.analytics.default_time_zone
        )
    })?;
    for term in &backends.config.safety.default_terms {
        anyhow::ensure!(
            ["low", "medium", "high"].contains(&term.severity.as_str()),
            "safety.default_terms: {:?} has severity {:?} (low, medium or high)",
            term.pattern,
            term.severity
        );
    }
    let zones = zones::Zones::new(backends.db.clone(), default_zone);
    let recorder = recorder::Recorder::start(backends, zones.clone());
    let recording = backends.config.analytics.record;
    if recording {
        recorder::listen(backends, &recorder);
    } else {
        tracing::warn!("analytics.record is off: no activity is recorded and no message is checked for safety");
    }
    let Neighbours { auth, billing, classes, personas, ingest } = neighbours;
    // Billing counts a month of messages in the org's time zone, which is kept here.
    billing.calendar_by(Arc::new(zones.clone()));
    let service = AnalyticsService::new(backends, auth, classes.clone(), personas, ingest, recorder, zones);
    classes.oversight_by(Arc::new(service.clone()));
    // Safety checks run on a task of their own per message: a slow moderation endpoint never holds up a turn.
    let checker = service.clone();
    backends.local_events.on::<ChatActivity>(move |event| {
        if recording && matches!(event, ChatActivity::MessageSent { .. }) {
            let (checker, event) = (checker.clone(), event.clone());
            tokio::spawn(async move { checker.check_message(&event).await });
        }
    });
    jobs.register(service::REPORT_KIND, service::report_handler(&service));
    service::schedule_reports(&service);
    Ok(service)
}

pub fn configure(cfg: &mut web::ServiceConfig, service: &AnalyticsService) {
    cfg.app_data(web::Data::new(service.clone()));
    routes::configure(cfg);
}

/// A person's activity, questions and flags are personal data: they go with the person.
#[async_trait::async_trait]
impl UserData for AnalyticsService {
    async fn erase_user(&self, org_id: Uuid, user_id: Uuid) -> anyhow::Result<()> {
        // Whatever is still queued for them is stored first, so nothing of theirs lands after the erasure.
        self.flush().await;
        store::oversight::erase_user(&self.backends.db, org_id, user_id).await?;
        tracing::info!(%user_id, "deleted a user's analytics");
        Ok(())
    }
}
