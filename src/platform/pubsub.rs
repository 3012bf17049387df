//! Topic pub/sub for live events (document progress, chat). In process by default; through Redis when
//! configured, so a client connected to replica B sees what replica A published.

use std::collections::HashMap;
use std::sync::Mutex;

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
}

#[derive(Default)]
pub struct MemoryPubSub {
    topics: Mutex<HashMap<String, broadcast::Sender<String>>>,
}

const BUFFER: usize = 256;

#[async_trait::async_trait]
impl PubSub for MemoryPubSub {
    async fn publish(&self, topic: &str, message: String) -> anyhow::Result<()> {
        let mut topics = self.topics.lock().map_err(|_| anyhow::anyhow!("pub/sub lock poisoned"))?;
        if let Some(sender) = topics.get(topic)
            && sender.send(message).is_err()
        {
            // Nobody listens any more: drop the topic instead of keeping a channel per past session.
            topics.remove(topic);
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> anyhow::Result<BoxStream<'static, String>> {
        let receiver = {
            let mut topics = self.topics.lock().map_err(|_| anyhow::anyhow!("pub/sub lock poisoned"))?;
            topics.entry(topic.to_owned()).or_insert_with(|| broadcast::channel(BUFFER).0).subscribe()
        };
        let stream = futures_util::stream::unfold(receiver, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(message) => return Some((message, rx)),
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
}
