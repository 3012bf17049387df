//! A fake SMTP server: speaks just enough of RFC 5321 (no TLS, no auth) for a client to deliver, and keeps each
//! message's envelope recipients and data for the test to read.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone, Default)]
pub struct Delivered {
    pub to: Vec<String>,
    pub data: String,
}

pub struct FakeSmtp {
    pub url: String,
    pub delivered: Arc<Mutex<Vec<Delivered>>>,
}

impl FakeSmtp {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let delivered: Arc<Mutex<Vec<Delivered>>> = Arc::default();
        let store = delivered.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(session(socket, store.clone()));
            }
        });
        Self { url, delivered }
    }

    pub fn messages(&self) -> Vec<Delivered> {
        self.delivered.lock().unwrap().clone()
    }
}

async fn session(socket: tokio::net::TcpStream, store: Arc<Mutex<Vec<Delivered>>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 fake.smtp ESMTP\r\n").await;
    let mut current = Delivered::default();
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-fake.smtp\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("MAIL FROM") {
            current = Delivered::default();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO") {
            current.to.push(line[8..].trim().trim_start_matches(':').trim().trim_matches(['<', '>']).to_owned());
            b"250 OK\r\n"
        } else if upper == "DATA" {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            while let Ok(Some(data)) = lines.next_line().await {
                if data == "." {
                    break;
                }
                current.data.push_str(&data);
                current.data.push('\n');
            }
            store.lock().unwrap().push(std::mem::take(&mut current));
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 OK\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
