//! Topic pub/sub for live events (document progress, chat). In process by default; through Redis when
//! configured, so a client connected to replica B sees what replica A published.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::broadcast;

use super::redis::Redis;

#[async_trait::async_trait]
pub trait PubSub: Send + Sync + 'static {
    async fn publish(&self, topic: &str, message: String) -> anyhow::Result<()>;
    /// Messages published on `topic` from now on. A subscriber too slow to keep up loses the oldest ones.
    async fn subscribe(&self, topic: &str) -> anyhow::Result<BoxStream<'static, String>>;
    /// Topics this process holds a channel for, where it keeps them itself (exported as a metric: it must not grow
    /// with the ids clients send).
    fn local_topics(&self) -> Option<usize> {
        None
    }
}

/// In process: one broadcast channel per topic, created by its first subscriber and dropped with its last, so
/// topics named by clients (a document id) cost nothing once nobody listens.
#[derive(Default)]
pub struct MemoryPubSub {
    topics: Arc<Mutex<HashMap<String, broadcast::Sender<String>>>>,
}

const BUFFER: usize = 256;

type Topics = Arc<Mutex<HashMap<String, broadcast::Sender<String>>>>;

/// One subscriber's receiver; dropping it drops the topic's channel if it was the last.
struct Subscription {
    rx: Option<broadcast::Receiver<String>>,
    topics: Topics,
    topic: String,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.rx.take());
        if let Ok(mut topics) = self.topics.lock()
            && topics.get(&self.topic).is_some_and(|sender| sender.receiver_count() == 0)
        {
            topics.remove(&self.topic);
        }
    }
}

#[async_trait::async_trait]
impl PubSub for MemoryPubSub {
    fn local_topics(&self) -> Option<usize> {
        self.topics.lock().ok().map(|t| t.len())
    }

    async fn publish(&self, topic: &str, message: String) -> anyhow::Result<()> {
        let topics = self.topics.lock().map_err(|_| anyhow::anyhow!("pub/sub lock poisoned"))?;
        // No channel: nobody listens, and publishing creates none.
        if let Some(sender) = topics.get(topic) {
            let _ = sender.send(message);
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> anyhow::Result<BoxStream<'static, String>> {
        let receiver = {
            let mut topics = self.topics.lock().map_err(|_| anyhow::anyhow!("pub/sub lock poisoned"))?;
            topics.entry(topic.to_owned()).or_insert_with(|| broadcast::channel(BUFFER).0).subscribe()
        };
        let subscription = Subscription { rx: Some(receiver), topics: self.topics.clone(), topic: topic.to_owned() };
        let stream = futures_util::stream::unfold(subscription, |mut sub| async move {
            let rx = sub.rx.as_mut()?;
            loop {
                match rx.recv().await {
                    Ok(message) => return Some((message, sub)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(stream.boxed())
    }
}

pub struct RedisPubSub {
    redis: Redis,
}

impl RedisPubSub {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }
}

#[async_trait::async_trait]
impl PubSub for RedisPubSub {
    async fn publish(&self, topic: &str, message: String) -> anyhow::Result<()> {
        let mut conn = self.redis.pool.get().await.context("getting a Redis connection")?;
        let _: i64 = deadpool_redis::redis::cmd("PUBLISH")
            .arg(self.redis.key(&format!("ps:{topic}")))
            .arg(message)
            .query_async(&mut conn)
            .await
            .context("Redis PUBLISH")?;
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> anyhow::Result<BoxStream<'static, String>> {
        // Subscriptions need a connection of their own; pooled connections are for commands.
        let mut pubsub = self.redis.client.get_async_pubsub().await.context("opening a Redis pub/sub connection")?;
        pubsub.subscribe(self.redis.key(&format!("ps:{topic}"))).await.context("Redis SUBSCRIBE")?;
        Ok(pubsub.into_on_message().filter_map(|msg| async move { msg.get_payload::<String>().ok() }).boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_pubsub_delivers_to_every_subscriber_of_the_topic_only() {
        let bus = MemoryPubSub::default();
        let mut a = bus.subscribe("session:1").await.unwrap();
        let mut b = bus.subscribe("session:1").await.unwrap();
        let mut other = bus.subscribe("session:2").await.unwrap();
        bus.publish("session:1", "hello".into()).await.unwrap();
        assert_eq!(a.next().await.unwrap(), "hello");
        assert_eq!(b.next().await.unwrap(), "hello");
        bus.publish("session:2", "x".into()).await.unwrap();
        assert_eq!(other.next().await.unwrap(), "x");
    }

    #[tokio::test]
    async fn a_topic_goes_with_its_last_subscriber_and_publishing_creates_none() {
        let bus = MemoryPubSub::default();
        for n in 0..1000 {
            bus.publish(&format!("document:{n}"), "nobody listens".into()).await.unwrap();
            drop(bus.subscribe(&format!("document:{n}")).await.unwrap());
        }
        assert_eq!(bus.local_topics().unwrap(), 0, "no channel is kept for topics nobody listens to");
        let a = bus.subscribe("chat").await.unwrap();
        let mut b = bus.subscribe("chat").await.unwrap();
        drop(a);
        assert_eq!(bus.local_topics().unwrap(), 1, "one subscriber left");
        bus.publish("chat", "still here".into()).await.unwrap();
        assert_eq!(b.next().await.unwrap(), "still here");
        drop(b);
        assert_eq!(bus.local_topics().unwrap(), 0);
    }
}
