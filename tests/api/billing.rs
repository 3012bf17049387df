//! Stripe: Checkout and the Portal send the fake Stripe exactly what they must; webhooks are verified on the raw
//! bytes, applied once per event id, never over a newer event, and each type does what it says.

use serde_json::{Value, json};

use crate::fake_stripe::{self, FakeStripe};
use crate::helpers::{TestApp, TestUser, assert_error, spawn_app_with};

pub async fn stripe_app(fake: &FakeStripe, customize: impl FnOnce(&mut bwenge::config::Settings)) -> TestApp {
    let base = fake.base.clone();
    spawn_app_with(move |s| {
        s.stripe.secret_key = fake_stripe::SECRET_KEY.to_owned().into();
        s.stripe.webhook_secret = fake_stripe::WEBHOOK_SECRET.to_owned().into();
        s.stripe.api_base = base;
        s.stripe.prices.basic = "price_basic".into();
        s.stripe.prices.pro = "price_pro".into();
        customize(s);
    })
    .await
}

pub async fn webhook(app: &TestApp, event: &Value, signature: Option<String>) -> reqwest::Response {
    let body = serde_json::to_vec(event).unwrap();
    let mut request = app
        .client
        .post(format!("{}/api/v1/billing/webhook", app.address))
        .header("content-type", "application/json")
        .body(body.clone());
    if let Some(signature) = signature.or_else(|| Some(fake_stripe::sign(&body))) {
        request = request.header("stripe-signature", signature);
    }
    request.send().await.unwrap()
}

/// Sends a signed event; answers the receipt's outcome.
pub async fn deliver(app: &TestApp, event: &Value) -> String {
    let response = webhook(app, event, None).await;
    assert_eq!(response.status(), 200, "{event}");
    let receipt: Value = response.json().await.unwrap();
    receipt["outcome"].as_str().unwrap().to_owned()
}

pub async fn subscription(app: &TestApp, admin: &TestUser) -> Value {
    let response = app.get_as("/api/v1/billing/subscription", &admin.access_token).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn checkout_and_portal_send_stripe_exactly_what_it_needs() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let admin = app.register("Paying school").await;
    let teacher = app.invite(&admin, "teacher").await;

    let plans: Value = app.get_as("/api/v1/billing/plans", &teacher.access_token).await.json().await.unwrap();
    let for_sale: Vec<(&str, bool)> =
        plans.as_array().unwrap().iter().map(|p| (p["plan"].as_str().unwrap(), p["for_sale"] == true)).collect();
    assert_eq!(for_sale, vec![("free", false), ("basic", true), ("pro", true), ("enterprise", false)]);
    assert_eq!(plans[0]["limits"]["personas"], 3, "{plans}");
    assert_eq!(plans[3]["limits"]["seats"], -1, "enterprise is unlimited");

    let checkout = app.post_as("/api/v1/billing/checkout", &admin.access_token, &json!({ "plan": "pro" })).await;
    assert_eq!(checkout.status(), 200);
    let checkout: Value = checkout.json().await.unwrap();
    assert_eq!(checkout["url"], "https://checkout.stripe.test/c/pay/cs_test_1");
    let sent = fake.received();
    assert_eq!(sent.len(), 1);
    let (request, org) = (&sent[0], admin.org_id.as_str());
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/v1/checkout/sessions"));
    assert_eq!(request.authorization, format!("Bearer {}", fake_stripe::SECRET_KEY));
    let form = &request.form;
    for (key, value) in [
        ("mode", "subscription"),
        ("client_reference_id", org),
        ("line_items[0][price]", "price_pro"),
        ("line_items[0][quantity]", "1"),
        ("subscription_data[metadata][org_id]", org),
        ("subscription_data[metadata][plan]", "pro"),
        ("metadata[org_id]", org),
        ("success_url", &format!("{}/billing?checkout=done", app.address)),
        ("cancel_url", &format!("{}/billing?checkout=cancelled", app.address)),
    ] {
        assert_eq!(form.get(key).map(String::as_str), Some(value), "{key} in {form:?}");
    }
    assert!(!form.contains_key("customer"), "the first checkout makes the customer");

    // No customer yet: no portal.
    let portal = app.post_as("/api/v1/billing/portal", &admin.access_token, &json!({})).await;
    assert_error(portal, 409, "no_customer").await;

    let completed = json!({ "id": "cs_test_1", "object": "checkout.session", "client_reference_id": org,
        "customer": "cus_1", "subscription": "sub_1", "metadata": { "org_id": org, "plan": "pro" } });
    assert_eq!(
        deliver(&app, &fake_stripe::event("evt_c1", "checkout.session.completed", now(), completed)).await,
        "applied"
    );
    let current = subscription(&app, &admin).await;
    assert_eq!((current["plan"].as_str(), current["has_customer"].as_bool()), (Some("pro"), Some(true)), "{current}");

    let portal = app.post_as("/api/v1/billing/portal", &admin.access_token, &json!({})).await;
    assert_eq!(portal.status(), 200);
    let portal: Value = portal.json().await.unwrap();
    assert_eq!(portal["url"], "https://billing.stripe.test/p/session/bps_test_1");
    let sent = fake.received();
    let request = sent.last().unwrap();
    assert_eq!(request.path, "/v1/billing_portal/sessions");
    assert_eq!(request.form.get("customer").map(String::as_str), Some("cus_1"));
    assert_eq!(request.form.get("return_url"), Some(&format!("{}/billing", app.address)));

    // A second checkout reuses the customer.
    app.post_as("/api/v1/billing/checkout", &admin.access_token, &json!({ "plan": "basic" })).await;
    assert_eq!(fake.received().last().unwrap().form.get("customer").map(String::as_str), Some("cus_1"));

    let enterprise = json!({ "plan": "enterprise" });
    let enterprise = app.post_as("/api/v1/billing/checkout", &admin.access_token, &enterprise).await;
    assert_error(enterprise, 422, "plan_not_for_sale").await;
    let gold = app.post_as("/api/v1/billing/checkout", &admin.access_token, &json!({ "plan": "gold" })).await;
    assert_error(gold, 422, "unknown_plan").await;
    let by_teacher = app.post_as("/api/v1/billing/checkout", &teacher.access_token, &json!({ "plan": "pro" })).await;
    assert_error(by_teacher, 403, "forbidden").await;
}

#[tokio::test]
async fn webhook_signatures_are_checked_on_the_raw_body() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let event = fake_stripe::event("evt_sig", "customer.created", now(), json!({ "id": "cus_x" }));
    let body = serde_json::to_vec(&event).unwrap();
    let t = now();

    assert_eq!(webhook(&app, &event, None).await.status(), 200, "a valid signature");
    let wrong = bwenge::billing::signature::header("whsec_other", t, &body);
    assert_error(webhook(&app, &event, Some(wrong)).await, 400, "invalid_signature").await;
    let stale = bwenge::billing::signature::header(fake_stripe::WEBHOOK_SECRET, t - 600, &body);
    assert_error(webhook(&app, &event, Some(stale)).await, 400, "invalid_signature").await;
    let rolled = format!(
        "t={t},v1={},v1={}",
        bwenge::billing::signature::sign("whsec_old", t, &body),
        bwenge::billing::signature::sign(fake_stripe::WEBHOOK_SECRET, t, &body)
    );
    assert_eq!(webhook(&app, &event, Some(rolled)).await.status(), 200, "any of several v1 signatures");
    assert_error(webhook(&app, &event, Some(String::new())).await, 400, "invalid_signature").await;
    let missing = app.client.post(format!("{}/api/v1/billing/webhook", app.address)).body(body.clone()).send();
    assert_error(missing.await.unwrap(), 400, "invalid_signature").await;

    // Signed, but not an event.
    let junk = b"[1, 2, 3]".to_vec();
    let response = app
        .client
        .post(format!("{}/api/v1/billing/webhook", app.address))
        .header("stripe-signature", fake_stripe::sign(&junk))
        .body(junk)
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "invalid_event").await;
}

fn subscription_object(org: &str, price: &str, status: &str) -> Value {
    json!({ "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status,
        "metadata": { "org_id": org },
        "items": { "data": [{ "price": { "id": price }, "current_period_end": now() + 30 * 86_400 }] } })
}

#[tokio::test]
async fn each_event_applies_once_and_never_over_a_newer_one() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |_| {}).await;
    let admin = app.register("Event school").await;
    let org = admin.org_id.clone();
    let t = now();
    let event = |id: &str, kind: &str, at: i64, object: Value| fake_stripe::event(id, kind, at, object);

    let created =
        event("evt_1", "customer.subscription.created", t, subscription_object(&org, "price_basic", "active"));
    assert_eq!(deliver(&app, &created).await, "applied");
    let current = subscription(&app, &admin).await;
    assert_eq!((current["plan"].as_str(), current["status"].as_str()), (Some("basic"), Some("active")), "{current}");
    assert!(current["current_period_end"].is_string());
    assert_eq!(deliver(&app, &created).await, "duplicate", "a replayed event id");

    let newer =
        event("evt_3", "customer.subscription.updated", t + 20, subscription_object(&org, "price_pro", "active"));
    assert_eq!(deliver(&app, &newer).await, "applied");
    let older =
        event("evt_2", "customer.subscription.updated", t + 10, subscription_object(&org, "price_basic", "active"));
    assert_eq!(deliver(&app, &older).await, "stale", "an older event arriving late");
    assert_eq!(subscription(&app, &admin).await["plan"], "pro");

    // Invoices name the customer only: the org is found by it.
    let failed = event("evt_4", "invoice.payment_failed", t + 30, json!({ "id": "in_1", "customer": "cus_1" }));
    assert_eq!(deliver(&app, &failed).await, "applied");
    let current = subscription(&app, &admin).await;
    assert_eq!((current["plan"].as_str(), current["status"].as_str()), (Some("pro"), Some("past_due")), "{current}");
    let grace = chrono::DateTime::parse_from_rfc3339(current["grace_until"].as_str().unwrap()).unwrap();
    let days = (grace.timestamp() - now()) as f64 / 86_400.0;
    assert!((6.9..=7.0).contains(&days), "seven days of grace, got {days}");

    let paid = event("evt_5", "invoice.paid", t + 40, json!({ "id": "in_1", "customer": "cus_1" }));
    assert_eq!(deliver(&app, &paid).await, "applied");
    let current = subscription(&app, &admin).await;
    assert_eq!((current["status"].as_str(), current["grace_until"].is_null()), (Some("active"), true), "{current}");

    let deleted =
        event("evt_6", "customer.subscription.deleted", t + 50, subscription_object(&org, "price_pro", "canceled"));
    assert_eq!(deliver(&app, &deleted).await, "applied");
    let current = subscription(&app, &admin).await;
    assert_eq!((current["plan"].as_str(), current["status"].as_str()), (Some("free"), Some("canceled")), "{current}");

    let other = event("evt_7", "customer.updated", t + 60, json!({ "id": "cus_1", "customer": "cus_1" }));
    assert_eq!(deliver(&app, &other).await, "ignored");
    let stranger = event("evt_8", "invoice.paid", t + 70, json!({ "id": "in_9", "customer": "cus_unknown" }));
    assert_eq!(deliver(&app, &stranger).await, "ignored", "a customer of no org here");
}

#[tokio::test]
async fn a_failed_payment_falls_back_to_free_once_its_grace_is_over() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, |s| s.billing.grace_days = 0).await;
    let admin = app.register("Lapsed school").await;
    let org = admin.org_id.clone();
    let t = now();
    let created = fake_stripe::event(
        "evt_a",
        "customer.subscription.created",
        t,
        subscription_object(&org, "price_pro", "active"),
    );
    deliver(&app, &created).await;
    let failed = fake_stripe::event("evt_b", "invoice.payment_failed", t + 1, json!({ "customer": "cus_1" }));
    deliver(&app, &failed).await;
    let current = subscription(&app, &admin).await;
    assert_eq!(
        (current["plan"].as_str(), current["subscribed_plan"].as_str(), current["lapsed"].as_bool()),
        (Some("free"), Some("pro"), Some(true)),
        "{current}"
    );
    let me: Value = app.get_as("/api/v1/auth/me", &admin.access_token).await.json().await.unwrap();
    assert_eq!(me["org"]["plan"], "free");
}

#[tokio::test]
async fn without_stripe_payments_are_refused_clearly_and_the_webhook_is_closed() {
    let app = spawn_app_with(|_| {}).await;
    let admin = app.register("Self-hosted school").await;
    let checkout = app.post_as("/api/v1/billing/checkout", &admin.access_token, &json!({ "plan": "pro" })).await;
    assert_error(checkout, 409, "billing_not_configured").await;
    let current = subscription(&app, &admin).await;
    assert_eq!((current["plan"].as_str(), current["payments"].as_bool()), (Some("free"), Some(false)));
    let event = fake_stripe::event("evt_z", "invoice.paid", now(), json!({}));
    assert_error(webhook(&app, &event, None).await, 409, "billing_not_configured").await;
}
