//! What a connection receives: frames ready to send ([`Outgoing`]) on its bounded queue ([`Outbox`]).

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::chat::views::ServerFrame;

/// A frame ready to send: its event name (for SSE) and its JSON.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub event: &'static str,
    pub json: Arc<str>,
}

impl Outgoing {
    pub fn new(frame: &ServerFrame) -> Self {
        let json = serde_json::to_string(frame).unwrap_or_else(|_| r#"{"type":"error","code":"internal"}"#.into());
        Self { event: frame.event(), json: json.into() }
    }
}

/// One client's bounded queue of frames. A client that does not read fills it; the next push then trips
/// `overflow`, and the connection closes instead of buffering without limit.
#[derive(Clone)]
pub struct Outbox {
    /// `None`: nobody streams this turn (a plain JSON request reads the result at the end).
    tx: Option<mpsc::Sender<Outgoing>>,
    overflow: CancellationToken,
}

impl Outbox {
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx: Some(tx), overflow: CancellationToken::new() }, rx)
    }

    pub fn discard() -> Self {
        Self { tx: None, overflow: CancellationToken::new() }
    }

    /// Queues a frame; false when the client is gone or too slow (and then never true again).
    pub fn push(&self, frame: Outgoing) -> bool {
        let Some(tx) = &self.tx else { return true };
        match tx.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.cancel();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    pub fn frame(&self, frame: &ServerFrame) -> bool {
        self.push(Outgoing::new(frame))
    }

    /// Resolves when the reader is gone or too slow; never for a discarding outbox.
    pub async fn gone(&self) {
        match &self.tx {
            Some(tx) => tokio::select! {
                () = tx.closed() => {}
                () = self.overflow.cancelled() => {}
            },
            None => std::future::pending().await,
        }
    }

    pub fn overflowed(&self) -> &CancellationToken {
        &self.overflow
    }

    pub fn is_closed(&self) -> bool {
        self.tx.as_ref().is_some_and(mpsc::Sender::is_closed) || self.overflow.is_cancelled()
    }
}
