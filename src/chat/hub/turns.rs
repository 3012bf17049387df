//! One turn per session, across replicas: the hub's local table says which turn runs here (and routes its
//! cancel); a lease on the platform's lease store says that none runs anywhere else.

use std::sync::{Arc, Weak};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{ChatHub, RunningTurn};

impl ChatHub {
    /// Claims the session for a new turn; `None` if one is already running, here or on another replica.
    ///
    /// If the lease store cannot be reached the claim goes ahead on this replica's word alone: a second answer
    /// racing on another replica is a smaller harm than no answers while Redis is down (`/readyz` reports it).
    pub async fn begin_turn(self: &Arc<Self>, session_id: Uuid, connection: Option<Uuid>) -> Option<TurnGuard> {
        let cancel = CancellationToken::new();
        {
            let mut turns = self.turns.lock().ok()?;
            if turns.contains_key(&session_id) {
                return None;
            }
            turns.insert(session_id, RunningTurn { cancel: cancel.clone(), connection });
        }
        let holder = Uuid::new_v4();
        let key = lease_key(session_id);
        let leased = match self.leases.acquire(&key, holder, self.lease_ttl).await {
            Ok(taken) => taken,
            Err(err) => {
                tracing::warn!(error = ?err, %session_id, "turn lease unavailable; claiming on this replica only");
                true
            }
        };
        let mut guard = TurnGuard { hub: Arc::clone(self), session_id, cancel, holder, released: false };
        if !leased {
            guard.released = true; // the lease is another's: only the local claim is ours to undo
            guard.forget_locally();
            return None;
        }
        tokio::spawn(renew(Arc::downgrade(self), key, holder, guard.cancel.clone()));
        Some(guard)
    }
}

fn lease_key(session_id: Uuid) -> String {
    format!("chat:turn:{session_id}")
}

/// Keeps a running turn's lease alive: renewed every third of its time to live until the turn ends (its token is
/// cancelled when it is released or dropped).
async fn renew(hub: Weak<ChatHub>, key: String, holder: Uuid, ended: CancellationToken) {
    let Some(ttl) = hub.upgrade().map(|h| h.lease_ttl) else { return };
    let every = ttl / 3;
    loop {
        tokio::select! {
            () = ended.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let Some(hub) = hub.upgrade() else { return };
        match hub.leases.renew(&key, holder, ttl).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(%key, "a running turn lost its lease (held too long without renewal)"),
            Err(err) => tracing::warn!(error = ?err, %key, "renewing a turn lease"),
        }
    }
}

/// The session's claim on a turn. [`TurnGuard::release`] frees the session for the next turn; a guard dropped
/// without it frees it too, the lease in the background.
pub struct TurnGuard {
    hub: Arc<ChatHub>,
    session_id: Uuid,
    pub cancel: CancellationToken,
    holder: Uuid,
    released: bool,
}

impl TurnGuard {
    /// Frees the session before the turn's last frame, so a client may ask again as soon as it sees it.
    pub async fn release(mut self) {
        self.released = true;
        self.forget_locally();
        if let Err(err) = self.hub.leases.release(&lease_key(self.session_id), self.holder).await {
            tracing::warn!(error = ?err, session_id = %self.session_id, "releasing a turn lease; it will expire");
        }
    }

    fn forget_locally(&self) {
        // The turn's token also stops the lease's renewal; cancelling it after the turn has ended is harmless.
        self.cancel.cancel();
        if let Ok(mut turns) = self.hub.turns.lock() {
            turns.remove(&self.session_id);
        }
    }
}

impl Drop for TurnGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.forget_locally();
        let (leases, key, holder) = (Arc::clone(&self.hub.leases), lease_key(self.session_id), self.holder);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = leases.release(&key, holder).await;
            });
        }
    }
}
