//! Plans and quotas. Today only the seam the write paths call before they create something
//! ([`BillingService::check`]); plans, usage and Stripe arrive with the billing issue and fill it in. Billing is
//! asked, it never asks: no other domain's state is read from here.

mod error;
pub mod service;

pub use error::BillingError;
pub use service::{BillingService, Quota};

pub fn init() -> BillingService {
    BillingService
}
