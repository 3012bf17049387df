//! The command line and layered configuration, through the real binary.

use std::process::Command;

use crate::helpers::test_data_dir;

#[test]
fn migrate_creates_the_sqlite_database_in_the_data_dir() {
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        return; // this check is about the embedded default
    }
    let dir = test_data_dir();
    let output = Command::new(env!("CARGO_BIN_EXE_bwenge"))
        .args(["migrate", "--data-dir"])
        .arg(&dir)
        .env_remove("DATABASE_URL")
        .output()
        .expect("binary runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let tables = Command::new("sqlite3").arg(dir.join("bwenge.db")).arg(".tables").output().expect("sqlite3 runs");
    let tables = String::from_utf8_lossy(&tables.stdout);
    for table in ["jobs", "users", "orgs", "audit_log"] {
        assert!(tables.contains(table), "{table} missing: {tables}");
    }
}

#[test]
fn config_layers_file_then_env_then_conventional_urls() {
    let dir = test_data_dir();
    // A file says one thing, BWENGE__ env another: the env var wins; DATABASE_URL names the database.
    let file = dir.join("extra.toml");
    std::fs::write(&file, "[database]\nurl = \"sqlite:///nonexistent/dir/never.db\"\n[log]\nlevel = \"warn\"\n")
        .unwrap();
    let custom_db = dir.join("custom.db");
    let output = Command::new(env!("CARGO_BIN_EXE_bwenge"))
        .args(["migrate", "--data-dir"])
        .arg(&dir)
        .arg("--config")
        .arg(&file)
        .env("BWENGE__DATABASE__URL", format!("sqlite://{}?mode=rwc", custom_db.display()))
        .env("DATABASE_URL", "postgres://ignored-because-the-bwenge-key-is-set/x")
        .output()
        .expect("binary runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(custom_db.exists(), "BWENGE__DATABASE__URL beat the file and DATABASE_URL");

    let conventional = dir.join("conventional.db");
    let output = Command::new(env!("CARGO_BIN_EXE_bwenge"))
        .args(["migrate", "--data-dir"])
        .arg(&dir)
        .env_remove("BWENGE__DATABASE__URL")
        .env("DATABASE_URL", format!("sqlite://{}?mode=rwc", conventional.display()))
        .output()
        .expect("binary runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(conventional.exists(), "DATABASE_URL is honoured");
}

#[test]
fn a_missing_config_file_or_a_mistyped_key_fails_with_a_clear_message() {
    let dir = test_data_dir();
    let output = Command::new(env!("CARGO_BIN_EXE_bwenge"))
        .args(["migrate", "--config", "/nonexistent/bwenge.toml", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("binary runs");
    assert!(!output.status.success());
    let output = Command::new(env!("CARGO_BIN_EXE_bwenge"))
        .args(["migrate", "--data-dir"])
        .arg(&dir)
        .env("BWENGE__SERVER__PORT", "not-a-port")
        .output()
        .expect("binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("configuration"), "{stderr}");
}

#[tokio::test]
async fn create_admin_bootstraps_an_organisation_on_a_closed_server() {
    // The server takes no sign-ups; the operator creates the first organisation from the command line, on the
    // same database the server uses.
    let app = crate::helpers::spawn_app_with(|s| s.auth.registration = bwenge::config::Registration::Closed).await;
    let dir = app.settings.server.data_dir.clone();
    let database = secrecy::ExposeSecret::expose_secret(&app.settings.database.url).to_owned();
    let email = format!("operator-{}@example.org", uuid::Uuid::new_v4().simple());
    let mut command = Command::new(env!("CARGO_BIN_EXE_bwenge"));
    command
        .args(["create-admin", "--org", "District school", "--email", &email, "--name", "Olu", "--data-dir"])
        .arg(&dir)
        .env("BWENGE_ADMIN_PASSWORD", crate::helpers::PASSWORD)
        .env_remove("BWENGE__DATABASE__URL");
    if database.is_empty() {
        command.env_remove("DATABASE_URL");
    } else {
        command.env("DATABASE_URL", &database);
    }
    let output = command.output().expect("binary runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("created organisation"));
    let login = app
        .post_json("/api/v1/auth/login", &serde_json::json!({ "email": email, "password": crate::helpers::PASSWORD }))
        .await;
    assert_eq!(login.status(), 200, "the new admin signs in");
    // A weak password is refused with the rule, and nothing is created.
    let weak = Command::new(env!("CARGO_BIN_EXE_bwenge"))
        .args(["create-admin", "--org", "Other", "--email", "weak@example.org", "--name", "W", "--data-dir"])
        .arg(&dir)
        .env("BWENGE_ADMIN_PASSWORD", "password")
        .env("DATABASE_URL", if database.is_empty() { "".to_owned() } else { database.clone() })
        .output()
        .expect("binary runs");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"), "{}", String::from_utf8_lossy(&weak.stderr));
}

#[tokio::test]
async fn seed_demo_makes_a_living_school_once() {
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        return; // the command runs on the embedded defaults here; the API it drives is the suite's subject
    }
    let dir = test_data_dir();
    let model =
        std::env::var("BWENGE_TEST_MODEL_DIR").unwrap_or_else(|_| "/var/tmp/bwenge-model/all-MiniLM-L6-v2".into());
    let free_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let seed = || {
        Command::new(env!("CARGO_BIN_EXE_bwenge"))
            .args(["seed-demo", "--port", &free_port, "--data-dir"])
            .arg(&dir)
            .env("BWENGE_DEMO_PASSWORD", crate::helpers::PASSWORD)
            .env("BWENGE__EMBEDDINGS__FETCH", "false")
            .env("BWENGE__EMBEDDINGS__MODEL_DIR", &model)
            .output()
            .expect("binary runs")
    };
    let output = seed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("demo seeded") && stdout.contains(bwenge::ops::demo::ADMIN_EMAIL), "{stdout}");
    let again = seed();
    assert!(!again.status.success(), "a second seed refuses");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already seeded"));

    let app = crate::helpers::spawn_app_on(crate::helpers::test_settings(&dir).await).await;
    let login = serde_json::json!({ "email": bwenge::ops::demo::ADMIN_EMAIL, "password": crate::helpers::PASSWORD });
    let tokens: serde_json::Value = app.post_json("/api/v1/auth/login", &login).await.json().await.unwrap();
    let admin = tokens["access_token"].as_str().expect("the demo admin signs in");
    let classes: serde_json::Value = app.get_as("/api/v1/classes", admin).await.json().await.unwrap();
    assert_eq!(classes["items"][0]["name"], "Year 8 Science", "{classes}");
    let collections: serde_json::Value = app.get_as("/api/v1/collections", admin).await.json().await.unwrap();
    let id = collections["items"][0]["id"].as_str().unwrap();
    let documents: serde_json::Value =
        app.get_as(&format!("/api/v1/collections/{id}/documents"), admin).await.json().await.unwrap();
    let documents = documents["items"].as_array().unwrap();
    assert_eq!(documents.len(), 3);
    assert!(documents.iter().all(|d| d["status"] == "ready"), "{documents:?}");
    let personas: serde_json::Value = app.get_as("/api/v1/personas", admin).await.json().await.unwrap();
    assert!(!personas["items"][0]["avatar_id"].is_null(), "the tutor has the sample avatar: {personas}");
}
