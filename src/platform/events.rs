//! Typed events. A domain declares its events (a serde type with a topic) and sends them without knowing who
//! listens; another domain subscribes to the type. Two ways to send:
//!
//! - [`publish`] goes over the pub/sub bus to every replica: for reactions every replica must see (a document
//!   ready reaches its uploader's socket, whichever replica holds it).
//! - [`LocalBus::emit`] stays in this process: for what must happen once per event (an analytics row). Had
//!   analytics subscribed on the shared bus, N replicas would each have written every row.
//!
//! Delivery is best effort and at most once either way: events are for reactions, the tables stay the truth.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

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

type Handler = Arc<dyn Fn(&dyn Any) + Send + Sync>;

/// In-process fan-out of typed events to handlers registered at start-up. Handlers run on the emitter's task, so
/// they must only hand the event on (a `try_send` to a channel); emitting never awaits and never fails.
#[derive(Default)]
pub struct LocalBus {
    handlers: RwLock<HashMap<TypeId, Vec<Handler>>>,
}

impl LocalBus {
    /// Calls `handler` with every `E` emitted in this process from now on.
    pub fn on<E: Event>(&self, handler: impl Fn(&E) + Send + Sync + 'static) {
        let handler: Handler = Arc::new(move |any: &dyn Any| {
            if let Some(event) = any.downcast_ref::<E>() {
                handler(event);
            }
        });
        let mut handlers = self.handlers.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        handlers.entry(TypeId::of::<E>()).or_default().push(handler);
    }

    pub fn emit<E: Event>(&self, event: &E) {
        let handlers = {
            let handlers = self.handlers.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            handlers.get(&TypeId::of::<E>()).cloned().unwrap_or_default()
        };
        for handler in handlers {
            handler(event);
        }
    }
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

    #[test]
    fn the_local_bus_calls_the_handlers_of_the_emitted_type_only() {
        let bus = LocalBus::default();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        bus.on::<Lesson>(move |lesson| sink.lock().unwrap().push(format!("{lesson:?}")));
        bus.emit(&Lesson::Started { student: 1 });
        bus.emit(&Other(2));
        assert_eq!(*seen.lock().unwrap(), vec!["Started { student: 1 }".to_owned()]);
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Other(u32);

    impl Event for Other {
        const TOPIC: &'static str = "test-other";
    }
}
