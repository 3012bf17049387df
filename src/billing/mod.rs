//! Plans, quotas and payments. Every write path that creates something a plan limits reserves it here
//! ([`BillingService::reserve`]); plans come from the configuration, an org's plan from its Stripe subscription
//! (Checkout, the Customer Portal, signed webhooks) or from the operator (`bwenge plan set`). Billing is asked, it
//! never asks: it keeps its own counters and reads no other domain's state; what it has to say (a plan changed, a
//! quota refused) goes out as [`BillingActivity`] events.

mod entities;
mod error;
pub mod events;
pub mod plans;
mod routes;
pub mod service;
pub mod signature;
mod store;
mod stripe;
pub mod views;

use actix_web::web;
use utoipa::OpenApi;

pub use error::BillingError;
pub use events::BillingActivity;
pub use plans::Plan;
pub use service::{BillingService, OrgCalendar, Quota, set_plan_offline};

use crate::platform::Backends;

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::plans, routes::subscription, routes::usage, routes::checkout, routes::portal, routes::webhook,
    ),
    tags((name = "billing", description = "Plans, usage against their limits, and payments through Stripe"))
)]
pub struct BillingApi;

/// The domain's state: the plans and, with `stripe.secret_key`, a Stripe client.
pub fn init(backends: &Backends) -> anyhow::Result<BillingService> {
    BillingService::new(backends)
}

pub fn configure(cfg: &mut web::ServiceConfig, service: &BillingService) {
    cfg.app_data(web::Data::new(service.clone()));
    routes::configure(cfg);
}
