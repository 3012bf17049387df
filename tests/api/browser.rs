//! The web app in Debian's Chromium: `tests/browser/run.mjs` (playwright-core and axe-core from npm) drives every
//! role's journey against this server with a fake model that streams slowly enough to be stopped. `.ci/run`
//! installs Chromium and runs `npm ci` in `tests/browser`; screenshots land in `target/screenshots/`.

use std::path::Path;
use std::time::Duration;

use crate::chat::spawn_with_llm;
use crate::fake_llm::{FakeLlm, Script};

/// An answer in many small pieces: the first cites the first source, the rest give the page time to stop it. Its
/// avatar cue tags (one split over two pieces, as a model may send it) become `avatar.cue` frames the tutor's 3D
/// figure acts out, in order: think, explain, celebrate.
fn answer() -> Script {
    let mut deltas = vec![
        "[cue:think]When an exception is not handled, Python stops the program ".to_owned(),
        "and prints a **traceback** [1]. [cue:exp".to_owned(),
        "lain]".to_owned(),
        // What a model could be tricked into writing: the page must render it inert.
        " <script>window.__injected = 1</script><a href=\"javascript:window.__injected = 2\">details</a>".to_owned(),
    ];
    deltas.extend((1..=30).map(|i| format!(" Step {i} of the explanation follows here.")));
    deltas.push(" [cue:celebrate]Well done for asking!".to_owned());
    Script::Stream { deltas, pause: Duration::from_millis(60), usage: Some((40, 60)) }
}

#[tokio::test]
async fn every_role_uses_the_web_app_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = root.join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in tests/browser first (and install Debian's chromium): .ci/run does both"
    );
    let fake = FakeLlm::start(vec![answer()]).await;
    // The admin's billing page sends them to Checkout: a fake Stripe answers with its URL.
    let stripe = crate::fake_stripe::FakeStripe::start().await;
    let app = spawn_with_llm(&fake, |s| {
        s.llm.first_token_timeout_secs = 10;
        s.stripe.secret_key = crate::fake_stripe::SECRET_KEY.to_owned().into();
        s.stripe.api_base = stripe.base.clone();
        s.stripe.prices.basic = "price_basic".into();
        s.stripe.prices.pro = "price_pro".into();
    })
    .await;
    let no_model = crate::helpers::spawn_app_with(|s| s.embeddings.model_dir = "/nonexistent/model".into()).await;
    let output = tokio::process::Command::new("node")
        .arg("run.mjs")
        .current_dir(&browser_dir)
        .env("BWENGE_URL", &app.address)
        .env("BWENGE_URL_NO_MODEL", &no_model.address)
        .env("FIXTURES", root.join("tests/fixtures"))
        .env("SCREENSHOTS", root.join("target/screenshots"))
        .kill_on_drop(true)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "browser journey failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(stdout.contains("browser journey: all good"), "{stdout}");
    let checkout = stripe.received().into_iter().find(|r| r.path == "/v1/checkout/sessions");
    let checkout = checkout.expect("the billing page opened a Checkout Session");
    assert_eq!(checkout.form.get("line_items[0][price]").map(String::as_str), Some("price_pro"));
}
