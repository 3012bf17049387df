//! Oversight through the HTTP API: safety flags and who they notify, the org's settings (transcripts for teachers
//! or aggregates only), and weekly reports as JSON, CSV and HTML, written by their job and mailed to teachers.

use std::time::Duration;

use chrono::Datelike;
use reqwest::Method;
use serde_json::{Value, json};

use crate::analytics::{School, chat, fake_model, get, school};
use crate::chat::spawn_with_llm;
use crate::fake_smtp::FakeSmtp;
use crate::helpers::{TestApp, TestUser, assert_error};

/// A second admin: invited as a teacher, then promoted (an admin may not invite an admin directly).
async fn second_admin(app: &TestApp, admin: &TestUser) -> TestUser {
    let user = app.invite(admin, "teacher").await;
    let path = format!("/api/v1/users/{}", user.id);
    let response = app.send(Method::PATCH, &path, Some(&admin.access_token), Some(&json!({ "role": "admin" }))).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    // A role change ends the old access tokens: sign in again.
    let tokens: Value = app
        .post_json("/api/v1/auth/login", &json!({ "email": user.email, "password": crate::helpers::PASSWORD }))
        .await
        .json()
        .await
        .unwrap();
    TestUser { access_token: tokens["access_token"].as_str().unwrap().to_owned(), ..user }
}

async fn unread(app: &TestApp, user: &TestUser) -> u64 {
    get(app, user, "/api/v1/alerts/summary").await["unread"].as_u64().unwrap()
}

/// Waits until `user` has `n` unread alerts (flags are raised on a task of their own, after the turn).
async fn until_unread(app: &TestApp, user: &TestUser, n: u64) {
    for _ in 0..100 {
        if unread(app, user).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never had {n} unread alerts", user.email);
}

async fn put_settings(app: &TestApp, user: &TestUser, body: &Value) -> reqwest::Response {
    app.send(Method::PUT, "/api/v1/analytics/settings", Some(&user.access_token), Some(body)).await
}

fn settings(s: &School, second_admin: &TestUser, transcripts: bool) -> Value {
    json!({
        "time_zone": "Africa/Kigali",
        "teachers_see_transcripts": transcripts,
        "safety_admin_ids": [second_admin.id],
        "safety_terms": [
            { "pattern": "homework is stupid", "kind": "word", "severity": "low", "category": "frustration" },
            { "pattern": "hurt myself", "kind": "word", "severity": "high", "category": "self-harm" },
        ],
        "_": s.persona,
    })
}

#[tokio::test]
async fn a_flag_notifies_the_class_teachers_and_a_high_one_the_designated_admins() {
    let smtp = FakeSmtp::start().await;
    let fake = fake_model().await;
    let url = smtp.url.clone();
    let app = spawn_with_llm(&fake, move |s| s.smtp.url = url.into()).await;
    let s = school(&app).await;
    let guardian = second_admin(&app, &s.admin).await;
    let mut body = settings(&s, &guardian, true);
    body.as_object_mut().unwrap().remove("_");
    let response = put_settings(&app, &s.admin, &body).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(get(&app, &s.ada, "/api/v1/analytics/settings").await["time_zone"], "Africa/Kigali");

    // A low flag: Sam's teacher only.
    let session = chat(&app, &s.sam, &s.persona, &["Honestly this HOMEWORK is   stupid"]).await;
    until_unread(&app, &s.ada, 1).await;
    // A high one: Sam's teacher and the designated admin, not the other admin.
    chat(&app, &s.sam, &s.persona, &["Sometimes I want to hurt myself"]).await;
    until_unread(&app, &s.ada, 2).await;
    until_unread(&app, &guardian, 1).await;
    assert_eq!(unread(&app, &s.bob).await, 0, "not Sam's teacher");
    assert_eq!(unread(&app, &s.admin).await, 0, "not a designated admin");

    let alerts = get(&app, &s.ada, "/api/v1/alerts").await;
    assert_eq!(alerts["total"], 2, "{alerts}");
    let high = &alerts["items"][0];
    assert_eq!(high["flag"]["severity"], "high");
    assert_eq!(high["flag"]["category"], "self-harm");
    assert_eq!(high["flag"]["student"]["id"], s.sam.id.as_str());
    assert_eq!(high["flag"]["student"]["name"], "A student");
    assert_eq!(alerts["items"][1]["flag"]["severity"], "low");
    assert_eq!(alerts["items"][1]["flag"]["session_id"], session.as_str());
    // The mail goes after the in-app notifications are stored.
    let mut mail = smtp.messages();
    for _ in 0..100 {
        if !mail.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        mail = smtp.messages();
    }
    assert_eq!(mail.len(), 1, "the high flag is mailed to the designated admin: {mail:?}");
    assert_eq!(mail[0].to, vec![guardian.email.clone()]);
    assert!(mail[0].data.contains("high-severity"), "{}", mail[0].data);

    // Reading them.
    let id = high["id"].as_str().unwrap();
    let read = app.post_as(&format!("/api/v1/alerts/{id}/read"), &s.ada.access_token, &json!({})).await;
    assert_eq!(read.status(), 204);
    assert_eq!(unread(&app, &s.ada).await, 1);
    let theirs = app.post_as(&format!("/api/v1/alerts/{id}/read"), &guardian.access_token, &json!({})).await;
    assert_error(theirs, 404, "not_found").await;
    let unread_only = get(&app, &s.ada, "/api/v1/alerts?unread=true").await;
    assert_eq!(unread_only["total"], 1);
    assert_eq!(app.post_as("/api/v1/alerts/read-all", &s.ada.access_token, &json!({})).await.status(), 204);
    assert_eq!(unread(&app, &s.ada).await, 0);

    // The dashboards count flags.
    for _ in 0..100 {
        app.analytics.flush().await;
        if get(&app, &s.admin, "/api/v1/analytics/overview").await["totals"]["flagged"] == 2 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the overview never counted the two flags");
}

#[tokio::test]
async fn oversight_settings_are_checked_and_can_limit_teachers_to_aggregates() {
    let fake = fake_model().await;
    let app = spawn_with_llm(&fake, |_| {}).await;
    let s = school(&app).await;
    let guardian = second_admin(&app, &s.admin).await;
    let session = chat(&app, &s.sam, &s.persona, &["How do plants make sugar?"]).await;
    let transcript = format!("/api/v1/sessions/{session}/messages");
    assert_eq!(app.get_as(&transcript, &s.ada.access_token).await.status(), 200, "teachers read by default");

    let defaults = get(&app, &s.ada, "/api/v1/analytics/settings").await;
    assert_eq!(defaults["teachers_see_transcripts"], true);
    assert_eq!(defaults["time_zone"], "UTC");
    assert!(!defaults["safety_terms"].as_array().unwrap().is_empty(), "an org starts with the default list");

    let good = || {
        let mut body = settings(&s, &guardian, false);
        body.as_object_mut().unwrap().remove("_");
        body
    };
    for (change, code) in [
        (json!({ "time_zone": "Mars/Olympus" }), "invalid_time_zone"),
        (
            json!({ "safety_terms": [{ "pattern": "(unclosed", "kind": "regex", "severity": "high" }] }),
            "invalid_safety_term",
        ),
        (json!({ "safety_terms": [{ "pattern": "x", "kind": "word", "severity": "extreme" }] }), "invalid_safety_term"),
        (json!({ "safety_terms": [{ "pattern": " ", "kind": "word", "severity": "low" }] }), "invalid_safety_term"),
        (json!({ "safety_admin_ids": [s.ada.id] }), "unknown_user"),
    ] {
        let mut body = good();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        assert_error(put_settings(&app, &s.admin, &body).await, 422, code).await;
    }
    assert_error(put_settings(&app, &s.ada, &good()).await, 403, "forbidden").await;

    // Aggregates only: the teacher keeps the dashboards, loses the transcripts; the admin keeps both.
    assert_eq!(put_settings(&app, &s.admin, &good()).await.status(), 200);
    assert_error(app.get_as(&transcript, &s.ada.access_token).await, 404, "not_found").await;
    assert_eq!(app.get_as(&transcript, &s.admin.access_token).await.status(), 200);
    app.analytics.flush().await;
    assert_eq!(get(&app, &s.ada, "/api/v1/analytics/overview").await["totals"]["messages"], 1);
}

#[tokio::test]
async fn weekly_reports_come_as_json_csv_and_html_and_the_job_mails_each_teacher_theirs() {
    let smtp = FakeSmtp::start().await;
    let fake = fake_model().await;
    let url = smtp.url.clone();
    let now = chrono::Utc::now();
    let app = spawn_with_llm(&fake, move |s| {
        s.smtp.url = url.into();
        // The job's hour is now, so running it writes last week's report.
        s.analytics.report_weekday = now.weekday().to_string().to_lowercase();
        s.analytics.report_hour = chrono::Timelike::hour(&now);
    })
    .await;
    let s = school(&app).await;
    chat(&app, &s.sam, &s.persona, &["How do green plants make sugar from sunlight?"]).await;
    chat(&app, &s.lee, &s.persona, &["Why do volcanoes erupt?", crate::analytics::OFF_TOPIC]).await;
    app.analytics.flush().await;
    let today = chrono::Utc::now().date_naive().iso_week();
    let week = format!("{}-W{:02}", today.year(), today.week());
    let path = format!("/api/v1/analytics/reports/weekly?week={week}");

    let report = get(&app, &s.admin, &path).await;
    assert_eq!(report["week"], week.as_str());
    assert_eq!(report["engagement"]["totals"]["messages"], 3, "{report}");
    assert_eq!(report["students"].as_array().unwrap().len(), 3);
    assert_eq!(report["gaps"][0]["label"], crate::analytics::OFF_TOPIC);
    let ada = get(&app, &s.ada, &path).await;
    assert_eq!(ada["engagement"]["totals"]["messages"], 1, "a teacher's report holds their students");

    let csv = app
        .client
        .get(app.url(&path))
        .bearer_auth(&s.admin.access_token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("student_id,student,messages,sessions"), "{csv}");
    assert!(csv.contains(&format!("{},A student,1,1,0,1,", s.sam.id)), "{csv}");
    let html = app.get_as(&format!("{path}&format=html"), &s.admin.access_token).await;
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = html.text().await.unwrap();
    assert!(html.contains("<svg") && html.contains(&format!("Weekly report {week}")), "{html}");
    assert!(!html.contains("<script"));
    assert_error(
        app.get_as("/api/v1/analytics/reports/weekly?week=2026-W60", &s.admin.access_token).await,
        422,
        "invalid_week",
    )
    .await;
    assert_error(app.get_as(&format!("{path}&format=pdf"), &s.admin.access_token).await, 422, "invalid_format").await;

    // The job, run directly: last week's report for the org, once; each teacher mailed their own.
    let written = app.analytics.run_weekly_reports().await.unwrap();
    assert_eq!(written, 1);
    assert_eq!(app.analytics.run_weekly_reports().await.unwrap(), 0, "written once");
    let org = s.admin.org_id.parse().unwrap();
    let stored = app.analytics.write_weekly_report(org, &week).await.unwrap();
    assert_eq!(
        get(&app, &s.admin, &path).await["generated_at"],
        json!(stored.generated_at),
        "the stored report is served"
    );
    let mail = smtp.messages();
    let to_ada: Vec<_> = mail.iter().filter(|m| m.to == vec![s.ada.email.clone()]).collect();
    let to_bob: Vec<_> = mail.iter().filter(|m| m.to == vec![s.bob.email.clone()]).collect();
    assert_eq!((to_ada.len(), to_bob.len()), (2, 2), "two reports each: {mail:?}");
    let this_week = |mails: &[&crate::fake_smtp::Delivered]| {
        mails.iter().find(|m| m.data.contains("Messages: 0")).is_some() && mails.iter().any(|m| m.data.contains(&week))
    };
    assert!(this_week(&to_ada) && this_week(&to_bob), "last week's (empty) and this week's reports: {mail:?}");
    assert!(to_ada.iter().any(|m| m.data.contains("Messages: 1")), "ada's students only: {to_ada:?}");
    assert!(to_bob.iter().any(|m| m.data.contains("Messages: 2")), "bob's students only: {to_bob:?}");
}
