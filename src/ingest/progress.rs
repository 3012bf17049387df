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

/// `current` (read after subscribing), then the subscription's updates from where `current` stands. An update
/// published between the subscription and the read is still delivered after it, and would take the progress
/// backwards (5 %, then the 2 % it had already passed), so updates behind `current`, and repeats, are dropped.
pub fn from_state(
    current: DocumentEvent,
    updates: BoxStream<'static, DocumentEvent>,
) -> BoxStream<'static, DocumentEvent> {
    let after = updates.scan(current.clone(), |last, event| {
        let fresh = !behind(last, &event) && *last != event;
        if fresh {
            *last = event.clone();
        }
        futures_util::future::ready(Some(fresh.then_some(event)))
    });
    futures_util::stream::iter([current]).chain(after.filter_map(futures_util::future::ready)).boxed()
}

/// Whether `event` is older than `last` within one run of the pipeline: a run goes queued, processing (its
/// progress only rising), then ready or failed, and a finished document ends the stream, so a new run (a
/// reprocess) never follows a finished one here.
fn behind(last: &DocumentEvent, event: &DocumentEvent) -> bool {
    match (last.status.as_str(), event.status.as_str()) {
        ("processing", "queued") => true,
        ("processing", "processing") => event.progress < last.progress,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(status: &str, progress: i16) -> DocumentEvent {
        DocumentEvent {
            id: Uuid::nil(),
            status: status.into(),
            stage: None,
            progress,
            chunk_count: 0,
            error_code: None,
            error_message: None,
        }
    }

    #[tokio::test]
    async fn updates_older_than_the_state_read_or_repeating_it_are_dropped() {
        let late = [event("queued", 0), event("processing", 2), event("processing", 5), event("processing", 30)];
        let updates = futures_util::stream::iter(late.into_iter().chain([event("ready", 100)])).boxed();
        let seen: Vec<(String, i16)> =
            from_state(event("processing", 5), updates).map(|e| (e.status, e.progress)).collect().await;
        let expected = [("processing", 5), ("processing", 30), ("ready", 100)];
        assert_eq!(seen, expected.map(|(s, p)| (s.to_owned(), p)));
    }

    #[tokio::test]
    async fn a_queued_state_passes_every_update_of_the_run() {
        let updates = futures_util::stream::iter([event("processing", 2), event("failed", 2)]).boxed();
        let seen: Vec<String> = from_state(event("queued", 0), updates).map(|e| e.status).collect().await;
        assert_eq!(seen, ["queued", "processing", "failed"]);
    }
}
