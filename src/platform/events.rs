//! Typed events on the pub/sub bus. A domain declares its events (a serde type with a topic) and publishes them
//! without knowing who listens; another domain (analytics, the chat socket) subscribes to the type. Delivery is
//! best effort and at most once, like the bus under it: events are for reactions, the tables stay the truth.

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::pubsub::PubSub;

/// An event type and the topic all its values travel on.
pub trait Event: Serialize + DeserializeOwned + Send + 'static {
    const TOPIC: &'static str;
}

/// Publishes `event` to every replica's subscribers. A failure is logged, never raised: the action the event
/// reports has already happened.
pub async fn publish<E: Event>(pubsub: &dyn PubSub, event: &E) {
    let json = match serde_json::to_string(event) {
        Ok(json) => json,
        Err(err) => {
            tracing::error!(error = %err, topic = E::TOPIC, "could not serialize an event");
            return;
        }
    };
    if let Err(err) = pubsub.publish(E::TOPIC, json).await {
        tracing::warn!(error = ?err, topic = E::TOPIC, "could not publish an event");
    }
}

/// Every `E` published from now on. A message that does not parse as `E` (a newer replica's shape) is skipped.
pub async fn subscribe<E: Event>(pubsub: &dyn PubSub) -> anyhow::Result<BoxStream<'static, E>> {
    let raw = pubsub.subscribe(E::TOPIC).await?;
    Ok(raw
        .filter_map(|json| async move {
            serde_json::from_str::<E>(&json)
                .inspect_err(|err| tracing::debug!(error = %err, topic = E::TOPIC, "skipping an unreadable event"))
                .ok()
        })
        .boxed())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::platform::pubsub::MemoryPubSub;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Lesson {
        Started { student: u32 },
        Finished { student: u32, minutes: u32 },
    }

    impl Event for Lesson {
        const TOPIC: &'static str = "test-lessons";
    }

    #[tokio::test]
    async fn subscribers_get_the_typed_events_and_skip_what_does_not_parse() {
        let bus = MemoryPubSub::default();
        let mut lessons = subscribe::<Lesson>(&bus).await.unwrap();
        publish(&bus, &Lesson::Started { student: 7 }).await;
        bus.publish(Lesson::TOPIC, "{\"type\":\"unknown\"}".into()).await.unwrap();
        publish(&bus, &Lesson::Finished { student: 7, minutes: 20 }).await;
        assert_eq!(lessons.next().await, Some(Lesson::Started { student: 7 }));
        assert_eq!(lessons.next().await, Some(Lesson::Finished { student: 7, minutes: 20 }));
    }
}
