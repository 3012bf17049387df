//! The calls billing makes to Stripe, through `async-stripe`: a Checkout Session to subscribe and a Customer Portal
//! session to manage. `stripe.api_base` points them elsewhere (tests run an in-process fake Stripe).

use std::collections::HashMap;
use std::time::Duration;

use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use uuid::Uuid;

use super::error::BillingError;
use super::plans::Plan;
use crate::config::{Settings, secret_opt};

#[derive(Clone)]
pub struct StripeGateway {
    client: ::stripe::Client,
}

/// What a subscription needs to find its way back to its org.
pub struct Checkout<'a> {
    pub org_id: Uuid,
    pub plan: Plan,
    pub price: &'a str,
    /// The org's Stripe customer, once it has one: a second checkout does not make a second customer.
    pub customer: Option<&'a str>,
    pub success_url: String,
    pub cancel_url: String,
}

impl StripeGateway {
    /// `None` without `stripe.secret_key`: plans are then set by the operator.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Self>> {
        let Some(secret) = secret_opt(&settings.stripe.secret_key) else { return Ok(None) };
        let client = ::stripe::ClientBuilder::new(secret)
            .url(settings.stripe.api_base.clone())
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|err| anyhow::anyhow!("stripe.api_base or stripe.secret_key is unusable: {err}"))?;
        Ok(Some(Self { client }))
    }

    /// A subscription-mode Checkout Session; its URL is where the admin pays.
    pub async fn checkout(&self, checkout: Checkout<'_>) -> Result<String, BillingError> {
        let metadata = HashMap::from([
            ("org_id".to_owned(), checkout.org_id.to_string()),
            ("plan".to_owned(), checkout.plan.as_str().to_owned()),
        ]);
        let mut line = CreateCheckoutSessionLineItems::new();
        line.price = Some(checkout.price.to_owned());
        line.quantity = Some(1);
        let mut subscription = CreateCheckoutSessionSubscriptionData::new();
        subscription.metadata = Some(metadata.clone());
        let mut request = CreateCheckoutSession::new()
            .mode(stripe_checkout::CheckoutSessionMode::Subscription)
            .client_reference_id(checkout.org_id.to_string())
            .line_items(vec![line])
            .subscription_data(subscription)
            .metadata(metadata)
            .success_url(checkout.success_url)
            .cancel_url(checkout.cancel_url);
        if let Some(customer) = checkout.customer {
            request = request.customer(customer);
        }
        let session = request.send(&self.client).await.map_err(|err| BillingError::Provider(err.to_string()))?;
        session.url.ok_or_else(|| BillingError::Provider("the Checkout Session has no url".into()))
    }

    /// A Customer Portal session for `customer`, returning to `return_url`.
    pub async fn portal(&self, customer: &str, return_url: String) -> Result<String, BillingError> {
        let session = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .send(&self.client)
            .await
            .map_err(|err| BillingError::Provider(err.to_string()))?;
        Ok(session.url)
    }
}
