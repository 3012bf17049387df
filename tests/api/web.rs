//! The web app as the binary serves it: the page for every app address, its modules with the right types,
//! long-cached under a versioned path, revalidated by ETag, and everything under the strict CSP.

use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

use crate::helpers::{TestApp, assert_error, spawn_app};

async fn page(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).header(ACCEPT, "text/html,application/xhtml+xml").send().await.unwrap()
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> &str {
    response.headers().get(&name).unwrap_or_else(|| panic!("{name} header")).to_str().unwrap()
}

#[tokio::test]
async fn the_page_answers_every_app_address_and_its_assets_are_cached_by_version() {
    let app = spawn_app().await;
    let home = page(&app, "/").await;
    assert_eq!(home.status(), 200);
    assert_eq!(header(&home, CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(header(&home, CACHE_CONTROL), "no-cache", "a new version is seen at once");
    let csp = header(&home, CONTENT_SECURITY_POLICY).to_owned();
    assert!(csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    let etag = header(&home, ETAG).to_owned();
    let html = home.text().await.unwrap();
    assert!(!html.contains("<script>") && !html.contains("style="), "nothing inline for the CSP");
    let script = html.split("src=\"").nth(1).and_then(|s| s.split('"').next()).expect("a script").to_owned();
    assert!(script.starts_with("/assets/") && script.ends_with("/app.js"), "{script}");
    let version = script.trim_start_matches("/assets/").trim_end_matches("/app.js").to_owned();

    let again =
        app.client.get(app.url("/")).header(ACCEPT, "text/html").header(IF_NONE_MATCH, &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);

    // Reloading an address inside the app gets the same page.
    for path in ["/collections/123", "/chat/abc", "/admin/audit"] {
        let deep = page(&app, path).await;
        assert_eq!(deep.status(), 200, "{path}");
        assert_eq!(deep.text().await.unwrap(), html, "{path}");
    }
    // The server's own paths stay JSON.
    assert_error(page(&app, "/api/v1/nothing-here").await, 404, "not_found").await;
    assert_error(app.get("/collections/123").await, 404, "not_found").await; // a client that did not ask for HTML

    let module = app.get(&script).await;
    assert_eq!(module.status(), 200);
    assert_eq!(header(&module, CONTENT_TYPE), "text/javascript; charset=utf-8", "modules must be JavaScript");
    assert_eq!(header(&module, CACHE_CONTROL), "public, max-age=31536000, immutable");
    let tag = header(&module, ETAG).to_owned();
    let cached = app.client.get(app.url(&script)).header(IF_NONE_MATCH, &tag).send().await.unwrap();
    assert_eq!(cached.status(), 304);
    assert!(cached.bytes().await.unwrap().is_empty());

    let css = app.get(&format!("/assets/{version}/app.css")).await;
    assert_eq!(header(&css, CONTENT_TYPE), "text/css; charset=utf-8");
    let vendored = app.get(&format!("/assets/{version}/vendor/purify.mjs")).await;
    assert_eq!(vendored.status(), 200, "the sanitizer is inside the binary");
    let plain = vendored.bytes().await.unwrap();

    // A browser that takes gzip gets the same file packed, as a representation with its own ETag.
    let three = format!("/assets/{version}/vendor/three.core.js");
    let packed = app.client.get(app.url(&three)).header("accept-encoding", "gzip, br").send().await.unwrap();
    assert_eq!(header(&packed, reqwest::header::CONTENT_ENCODING), "gzip");
    assert!(header(&packed, reqwest::header::VARY).contains("Accept-Encoding"), "caches keep both forms apart");
    assert!(header(&packed, ETAG).ends_with("-gz\""));
    let body = packed.bytes().await.unwrap();
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body.as_ref()), &mut unpacked).unwrap();
    let whole = app.get(&three).await.bytes().await.unwrap();
    assert_eq!(unpacked, whole.as_ref(), "the same bytes once unpacked");
    assert!(body.len() * 3 < whole.len(), "{} of {}", body.len(), whole.len());
    let purify = app.client.get(app.url(&format!("/assets/{version}/vendor/purify.mjs"))).send().await.unwrap();
    assert_eq!(purify.bytes().await.unwrap(), plain, "no gzip unless asked for");
    // A page of an older version still gets files, but must not keep them.
    let stale = app.get("/assets/0000000000000000/app.js").await;
    assert_eq!(stale.status(), 200);
    assert_eq!(header(&stale, CACHE_CONTROL), "no-cache");
    assert_error(app.get(&format!("/assets/{version}/missing.js")).await, 404, "not_found").await;
    assert_error(app.get(&format!("/assets/{version}/../Cargo.toml")).await, 404, "not_found").await;
}

#[test]
fn vendored_libraries_match_their_recorded_checksums() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("static/vendor/VERSIONS.json")).unwrap()).unwrap();
    let files: Vec<&serde_json::Value> =
        record["packages"].as_array().unwrap().iter().flat_map(|p| p["files"].as_array().unwrap()).collect();
    assert!(files.len() >= 5, "{record}");
    for entry in files {
        let name = entry["file"].as_str().unwrap();
        let bytes = std::fs::read(root.join("static/vendor").join(name)).unwrap();
        let digest: String = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&bytes))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(entry["sha256"], digest.as_str(), "{name} changed without scripts/vendor-web.sh");
    }
}
