//! The billing routes: thin handlers over [`BillingService`].

use actix_web::{HttpRequest, HttpResponse, web};

use super::error::BillingError;
use super::service::BillingService;
use super::views::{CheckoutRequest, PlanView, RedirectView, SubscriptionView, UsageView, WebhookReceipt};
use crate::auth::{Admin, AuthUser, RequireRole};
use crate::error::ErrorBody;
use crate::http::Json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/billing/plans").get(plans))
        .service(web::resource("/billing/subscription").get(subscription))
        .service(web::resource("/billing/usage").get(usage))
        .service(web::resource("/billing/checkout").post(checkout))
        .service(web::resource("/billing/portal").post(portal))
        .service(web::resource("/billing/webhook").post(webhook));
}

/// List the plans
///
/// Each plan's limits (`-1`: unlimited) and whether it can be bought here.
#[utoipa::path(get, path = "/api/v1/billing/plans", tag = "billing", operation_id = "list_plans",
    security(("bearer" = []), ("api_key" = [])), extensions(("x-min-role" = json!("student"))),
    responses((status = 200, description = "every plan", body = Vec<PlanView>)))]
pub async fn plans(billing: web::Data<BillingService>, _caller: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(billing.plans())
}

/// Get the subscription
///
/// The plan in force, its payment state, and usage against each limit.
#[utoipa::path(get, path = "/api/v1/billing/subscription", tag = "billing", operation_id = "get_subscription",
    security(("bearer" = []), ("api_key" = [])), extensions(("x-min-role" = json!("admin"))),
    responses((status = 200, description = "the org's subscription", body = SubscriptionView),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorBody)))]
pub async fn subscription(
    billing: web::Data<BillingService>,
    caller: RequireRole<Admin>,
) -> Result<HttpResponse, BillingError> {
    Ok(HttpResponse::Ok().json(billing.subscription(&caller.user).await?))
}

/// Get usage
///
/// What the org uses of each limit: messages this month (in the org's time zone), stored bytes, tutors, people.
#[utoipa::path(get, path = "/api/v1/billing/usage", tag = "billing", operation_id = "get_usage",
    security(("bearer" = []), ("api_key" = [])), extensions(("x-min-role" = json!("admin"))),
    responses((status = 200, description = "usage against each limit", body = UsageView),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorBody)))]
pub async fn usage(
    billing: web::Data<BillingService>,
    caller: RequireRole<Admin>,
) -> Result<HttpResponse, BillingError> {
    Ok(HttpResponse::Ok().json(billing.usage(caller.user.org_id).await?))
}

fn origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// Open Checkout
///
/// A Stripe Checkout Session subscribing the org to `plan`; send the browser to its `url`.
#[utoipa::path(post, path = "/api/v1/billing/checkout", tag = "billing", operation_id = "create_checkout",
    security(("bearer" = []), ("api_key" = [])), request_body = CheckoutRequest,
    extensions(("x-min-role" = json!("admin"))),
    responses((status = 200, description = "where to pay", body = RedirectView),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorBody),
        (status = 409, description = "`billing_not_configured`: this server takes no payments", body = ErrorBody),
        (status = 422, description = "`unknown_plan`, `plan_not_for_sale`, or `invalid_body`", body = ErrorBody),
        (status = 502, description = "`payment_provider_error`: Stripe failed; try again", body = ErrorBody)))]
pub async fn checkout(
    billing: web::Data<BillingService>,
    caller: RequireRole<Admin>,
    req: HttpRequest,
    body: Json<CheckoutRequest>,
) -> Result<HttpResponse, BillingError> {
    let url = billing.checkout(&caller.user, &body.plan, &origin(&req)).await?;
    Ok(HttpResponse::Ok().json(RedirectView { url }))
}

/// Open the Customer Portal
///
/// Where the admin changes the payment method, the plan, or cancels; send the browser to its `url`.
#[utoipa::path(post, path = "/api/v1/billing/portal", tag = "billing", operation_id = "create_portal_session",
    security(("bearer" = []), ("api_key" = [])), extensions(("x-min-role" = json!("admin"))),
    responses((status = 200, description = "where to manage the subscription", body = RedirectView),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorBody),
        (status = 409, description = "`billing_not_configured`, or `no_customer`: the org never subscribed",
            body = ErrorBody),
        (status = 502, description = "`payment_provider_error`: Stripe failed; try again", body = ErrorBody)))]
pub async fn portal(
    billing: web::Data<BillingService>,
    caller: RequireRole<Admin>,
    req: HttpRequest,
) -> Result<HttpResponse, BillingError> {
    let url = billing.portal(&caller.user, &origin(&req)).await?;
    Ok(HttpResponse::Ok().json(RedirectView { url }))
}

/// Receive a Stripe event
///
/// Called by Stripe, signed with the endpoint's secret (`Stripe-Signature`); no bearer token. Each event id applies
/// once; an event older than the last one applied to the subscription changes nothing.
#[utoipa::path(post, path = "/api/v1/billing/webhook", tag = "billing", operation_id = "receive_stripe_webhook",
    request_body(content = Object, content_type = "application/json", description = "a Stripe event"),
    params(("Stripe-Signature" = String, Header, description = "`t=…,v1=…`")),
    responses((status = 200, description = "received", body = WebhookReceipt),
        (status = 400, description = "`invalid_signature` or `invalid_event`", body = ErrorBody),
        (status = 409, description = "`billing_not_configured`: no webhook secret", body = ErrorBody)))]
pub async fn webhook(
    billing: web::Data<BillingService>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, BillingError> {
    let signature = req.headers().get("stripe-signature").and_then(|v| v.to_str().ok());
    let outcome = billing.webhook(signature, &body).await?;
    Ok(HttpResponse::Ok().json(WebhookReceipt { outcome }))
}
