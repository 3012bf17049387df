//! A fake Stripe API: answers Checkout Session and Customer Portal session creation as Stripe does (the fields
//! async-stripe requires), keeps every request it receives for the test to read, and signs webhook events the way
//! Stripe does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bwenge::billing::signature;
use serde_json::{Value, json};

pub const SECRET_KEY: &str = "sk_test_fake";
pub const WEBHOOK_SECRET: &str = "whsec_fake";

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub authorization: String,
    /// The form body, decoded: `line_items[0][price]` → `price_pro`.
    pub form: BTreeMap<String, String>,
}

pub struct FakeStripe {
    pub base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeStripe {
    pub async fn start() -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let shared = web::Data::new(received.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let server = HttpServer::new(move || App::new().app_data(shared.clone()).default_service(web::to(answer)))
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
        tokio::spawn(server);
        Self { base, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn answer(req: HttpRequest, body: web::Bytes, received: web::Data<Arc<Mutex<Vec<Received>>>>) -> HttpResponse {
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let path = req.path().to_owned();
    received.lock().unwrap().push(Received {
        method: req.method().to_string(),
        path: path.clone(),
        authorization,
        form: form.clone(),
    });
    let now = chrono::Utc::now().timestamp();
    match path.as_str() {
        "/v1/checkout/sessions" => HttpResponse::Ok().json(json!({
            "id": "cs_test_1",
            "object": "checkout.session",
            "automatic_tax": { "enabled": false },
            "client_reference_id": form.get("client_reference_id"),
            "created": now,
            "custom_fields": [],
            "custom_text": {},
            "expires_at": now + 86_400,
            "livemode": false,
            "mode": "subscription",
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "shipping_options": [],
            "status": "open",
            "url": "https://checkout.stripe.test/c/pay/cs_test_1",
        })),
        "/v1/billing_portal/sessions" => HttpResponse::Ok().json(json!({
            "id": "bps_test_1",
            "object": "billing_portal.session",
            "configuration": "bpc_test_1",
            "created": now,
            "customer": form.get("customer"),
            "livemode": false,
            "return_url": form.get("return_url"),
            "url": "https://billing.stripe.test/p/session/bps_test_1",
        })),
        _ => HttpResponse::NotFound().json(json!({
            "error": { "type": "invalid_request_error", "message": format!("Unrecognized request URL ({path})") }
        })),
    }
}

/// A Stripe event of `kind` about `object`, created at `created` (Unix seconds).
pub fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({ "id": id, "object": "event", "type": kind, "created": created, "data": { "object": object } })
}

/// A `Stripe-Signature` header for `body`, signed now with the fake's webhook secret.
pub fn sign(body: &[u8]) -> String {
    signature::header(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), body)
}
