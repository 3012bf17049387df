//! Chat: a student's sessions with a persona, RAG answers with citations and avatar cues, over HTTP (JSON or SSE)
//! and a WebSocket. Live events cross replicas through [`hub`] on the platform's pub/sub.

mod cues;
mod entities;
mod error;
mod extractive;
mod followup;
mod hub;
mod lead;
mod prompt;
mod routes;
pub mod service;
mod socket;
mod store;
mod turn;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use futures_util::StreamExt;
use utoipa::OpenApi;

pub use error::ChatError;
pub use service::{ChatService, Neighbours};

use self::hub::ChatHub;
use self::views::ServerFrame;
use crate::platform::Backends;

#[derive(OpenApi)]
#[openapi(
    paths(
        routes::sessions::create_session, routes::sessions::list_sessions, routes::sessions::get_session,
        routes::sessions::list_messages,
        routes::messages::send_message, routes::ws::connect,
    ),
    components(schemas(views::ClientFrame, views::ServerFrame)),
    tags((name = "chat", description = "Sessions with a tutor; answers as JSON, SSE or over the WebSocket"))
)]
pub struct ChatApi;

/// Starts this replica's hub (its subscription to the other replicas' chat events) and the forwarding of document
/// progress to uploaders' sockets.
pub async fn init(backends: &Backends, neighbours: Neighbours) -> ChatService {
    let lease_ttl = Duration::from_secs(backends.config.chat.turn_lease_secs);
    let hub = ChatHub::start(backends.pubsub.clone(), backends.leases.clone(), lease_ttl).await;
    let chat = ChatService::new(backends, hub, neighbours);
    // Once before serving, so answers a killed process left streaming are marked before anyone reads them.
    if let Err(err) = chat.sweep_interrupted().await {
        tracing::warn!(error = ?err, "marking interrupted answers");
    }
    sweep_interrupted_answers(&chat, lease_ttl);
    forward_document_events(&chat);
    follow_access_changes(&chat).await;
    chat
}

pub fn configure(cfg: &mut web::ServiceConfig, service: &ChatService) {
    cfg.app_data(web::Data::new(service.clone()));
    routes::configure(cfg);
}

/// Hands auth's access changes (from every replica) to this replica's connections, for as long as the hub lives.
/// The first subscription is made before this returns, so a change right after start-up is not missed.
async fn follow_access_changes(chat: &ChatService) {
    let hub = Arc::downgrade(&chat.hub);
    let auth = chat.auth.clone();
    let mut changes = match auth.access_changes().await {
        Ok(changes) => Some(changes),
        Err(err) => {
            tracing::warn!(error = ?err, "subscribing to access changes; retrying in the background");
            None
        }
    };
    tokio::spawn(async move {
        loop {
            if let Some(stream) = changes.as_mut() {
                while let Some(change) = stream.next().await {
                    let Some(hub) = hub.upgrade() else { return };
                    auth.observe(&change);
                    hub.access_changed(&change);
                }
            }
            if hub.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            changes = auth.access_changes().await.ok();
        }
    });
}

/// Forwards the progress of every document to its uploader's WebSocket connections on this replica, for as long
/// as the hub lives; resubscribes after a lost subscription (Redis restarted).
fn forward_document_events(chat: &ChatService) {
    let hub = Arc::downgrade(&chat.hub);
    let ingest = chat.ingest.clone();
    tokio::spawn(async move {
        loop {
            match ingest.document_events().await {
                Ok(mut events) => {
                    while let Some(progress) = events.next().await {
                        let Some(hub) = hub.upgrade() else { return };
                        hub.deliver_to_user(progress.uploaded_by, &ServerFrame::DocumentProgress(progress.event));
                    }
                }
                Err(err) => tracing::warn!(error = ?err, "subscribing to document events; retrying"),
            }
            if hub.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
}

/// Every lease period, marks the answers left `streaming` by a replica that died `interrupted` (see
/// [`ChatService::sweep_interrupted`]), for as long as the hub lives.
fn sweep_interrupted_answers(chat: &ChatService, every: Duration) {
    let hub = Arc::downgrade(&chat.hub);
    let chat = chat.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if hub.strong_count() <= 1 {
                return; // only this task's service still holds the hub: the app is gone
            }
            if let Err(err) = chat.sweep_interrupted().await {
                tracing::warn!(error = ?err, "marking interrupted answers");
            }
        }
    });
}
