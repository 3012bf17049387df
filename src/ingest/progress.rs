//! Document progress, pushed as it happens: on the `document:<id>` topic (streamed as Server-Sent Events), and as
//! a [`DocumentProgress`] on one topic with the uploader's id, which the chat WebSocket forwards to the uploader's
//! connections. Both go through the platform's pub/sub, so every replica's subscribers see them.

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use uuid::Uuid;

use super::entities::document;
use super::views::{DocumentEvent, DocumentProgress};
use crate::platform::events;
use crate::platform::pubsub::PubSub;

fn topic(id: Uuid) -> String {
    format!("document:{id}")
}

/// Best effort: progress is also in the table, so a lost event costs a client a refresh, never data.
pub async fn publish(pubsub: &dyn PubSub, doc: &document::Model, event: DocumentEvent) {
    match serde_json::to_string(&event) {
        Ok(json) => {
            if let Err(err) = pubsub.publish(&topic(event.id), json).await {
                tracing::warn!(error = ?err, "could not publish a document event");
            }
        }
        Err(err) => tracing::error!(error = %err, "could not serialize a document event"),
    }
    events::publish(pubsub, &DocumentProgress { uploaded_by: doc.uploaded_by, event }).await;
}

/// The document's current state as an event.
pub async fn publish_state(pubsub: &dyn PubSub, doc: &document::Model) {
    publish(pubsub, doc, DocumentEvent::from(doc)).await;
}

/// Every change of one document from now on.
pub async fn subscribe(pubsub: &dyn PubSub, id: Uuid) -> anyhow::Result<BoxStream<'static, DocumentEvent>> {
    let raw = pubsub.subscribe(&topic(id)).await?;
    Ok(raw.filter_map(|json| async move { serde_json::from_str::<DocumentEvent>(&json).ok() }).boxed())
}
