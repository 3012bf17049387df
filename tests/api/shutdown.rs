//! The real binary: starts on embedded defaults with no outside service, and SIGTERM drains in-flight work.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{test_data_dir, test_settings};

/// Starts `bwenge serve --port 0` and returns it with the port it logged.
async fn start_binary() -> (Child, u16) {
    let dir = test_data_dir();
    let settings = test_settings(&dir).await;
    let mut command = Command::new(env!("CARGO_BIN_EXE_bwenge"));
    command
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(&dir)
        .env("BWENGE__LOG__FORMAT", "json")
        .env("BWENGE__DATABASE__URL", settings.database.url.expose_secret())
        .env("BWENGE__REDIS__URL", settings.redis.url.expose_secret())
        .env("BWENGE__REDIS__PREFIX", &settings.redis.prefix)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command.spawn().expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if !sent && event["fields"]["message"] == "bwenge listening" {
                let _ = port_tx.send(event["fields"]["port"].as_u64().unwrap_or(0) as u16);
                sent = true;
            }
        }
    });
    let port = port_rx.recv_timeout(Duration::from_secs(30)).expect("server logs its port");
    (child, port)
}

fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
}

fn wait_for_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("server still running {limit:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn sigterm_lets_a_slow_request_finish_then_exits_within_10_seconds() {
    let (mut child, port) = start_binary().await;
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200, "ready on embedded defaults");

    // A client that sends its body slowly: the request is in flight when SIGTERM lands.
    let body = br#"{"email":"slow@example.org","password":"a slow client's password"}"#;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let signalled = Instant::now();
    sigterm(&child);
    tokio::time::sleep(Duration::from_millis(700)).await;
    stream.write_all(&body[10..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "the in-flight request got its real answer: {response}");
    assert!(response.contains("invalid_credentials"), "{response}");

    let status = wait_for_exit(&mut child, Duration::from_secs(10));
    assert!(status.success(), "clean exit: {status:?}");
    assert!(signalled.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn sigterm_on_an_idle_server_exits_cleanly() {
    let (mut child, port) = start_binary().await;
    assert_eq!(reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.unwrap().status(), 200);
    sigterm(&child);
    let status = wait_for_exit(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}
