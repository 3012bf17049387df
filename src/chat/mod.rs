//! Chat: a student's sessions with a persona, RAG answers with citations and avatar cues, over HTTP (JSON or
//! SSE) and a WebSocket. Live events cross replicas through [`hub`] on the platform's pub/sub.

pub mod cues;
mod entities;
mod error;
mod followup;
pub mod hub;
mod prompt;
mod routes;
mod service;
mod store;
mod turn;
mod views;
mod ws;

use actix_web::web;
use utoipa::OpenApi;

pub use error::ChatError;
pub use hub::ChatHub;

#[derive(OpenApi)]
#[openapi(
    paths(routes::create_session, routes::list_sessions, routes::list_messages, routes::send_message, ws::connect),
    components(schemas(
        cues::Cue, cues::CueAt, views::SessionView, views::MessageView, views::Citation, views::SendMessage,
        views::TurnView, crate::platform::llm::chat::TokenUsage
    )),
    tags((name = "chat", description = "Sessions with a tutor; answers as JSON, SSE or over the WebSocket"))
)]
pub struct ChatApi;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/personas/{id}/sessions").post(routes::create_session))
        .service(web::resource("/sessions").get(routes::list_sessions))
        .service(web::resource("/sessions/{id}/messages").get(routes::list_messages).post(routes::send_message))
        .service(web::resource("/chat/ws").get(ws::connect));
}

/// Forwards the progress of every document to its uploader's WebSocket connections on this replica, for as
/// long as the app lives; resubscribes after a lost subscription (Redis restarted).
pub fn forward_document_events(state: &std::sync::Arc<crate::app::AppState>) {
    use futures_util::StreamExt;
    let state = std::sync::Arc::downgrade(state);
    tokio::spawn(async move {
        loop {
            let events = match state.upgrade() {
                Some(live) => crate::ingest::service::document_events(&live).await,
                None => return,
            };
            match events {
                Ok(mut events) => {
                    while let Some(event) = events.next().await {
                        let Some(live) = state.upgrade() else { return };
                        live.chat.deliver_to_user(event.uploaded_by, &views::ServerFrame::DocumentProgress(event));
                    }
                }
                Err(err) => tracing::warn!(error = ?err, "subscribing to document events; retrying"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }
    });
}
