//! Short exclusive leases on a key (one chat turn per session): in process for one replica, in Redis when
//! replicas must agree. A lease expires on its own, so a replica that dies holding one blocks its key for at most
//! one `ttl`; a live holder renews it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use tokio::time::Instant;
use uuid::Uuid;

use super::redis::Redis;

#[async_trait::async_trait]
pub trait Leases: Send + Sync + 'static {
    /// Takes `key` for `holder` for `ttl`; false while another holder's lease on it runs.
    async fn acquire(&self, key: &str, holder: Uuid, ttl: Duration) -> anyhow::Result<bool>;
    /// Extends `holder`'s lease by `ttl` from now; false if it has lapsed or is someone else's.
    async fn renew(&self, key: &str, holder: Uuid, ttl: Duration) -> anyhow::Result<bool>;
    /// Gives `key` up, if `holder` still holds it.
    async fn release(&self, key: &str, holder: Uuid) -> anyhow::Result<()>;
}

#[derive(Default)]
pub struct MemoryLeases {
    held: Mutex<HashMap<String, (Uuid, Instant)>>,
}

impl MemoryLeases {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, (Uuid, Instant)>) -> T) -> anyhow::Result<T> {
        let mut held = self.held.lock().map_err(|_| anyhow::anyhow!("lease table lock poisoned"))?;
        Ok(f(&mut held))
    }
}

#[async_trait::async_trait]
impl Leases for MemoryLeases {
    async fn acquire(&self, key: &str, holder: Uuid, ttl: Duration) -> anyhow::Result<bool> {
        let now = Instant::now();
        self.with(|held| match held.get(key) {
            Some((_, until)) if *until > now => false,
            _ => {
                held.insert(key.to_owned(), (holder, now + ttl));
                true
            }
        })
    }

    async fn renew(&self, key: &str, holder: Uuid, ttl: Duration) -> anyhow::Result<bool> {
        let now = Instant::now();
        self.with(|held| match held.get_mut(key) {
            Some((who, until)) if *who == holder && *until > now => {
                *until = now + ttl;
                true
            }
            _ => false,
        })
    }

    async fn release(&self, key: &str, holder: Uuid) -> anyhow::Result<()> {
        self.with(|held| {
            if held.get(key).is_some_and(|(who, _)| *who == holder) {
                held.remove(key);
            }
        })
    }
}

pub struct RedisLeases {
    redis: Redis,
}

impl RedisLeases {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }
}

/// Compare-and-act scripts (sent with EVAL: small, and rare enough per turn): only the holder's own value may
/// extend or delete the key.
const RENEW: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    return redis.call('DEL', KEYS[1]) else return 0 end";

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait::async_trait]
impl Leases for RedisLeases {
    async fn acquire(&self, key: &str, holder: Uuid, ttl: Duration) -> anyhow::Result<bool> {
        let mut conn = self.redis.pool.get().await.context("getting a Redis connection")?;
        let set: Option<String> = deadpool_redis::redis::cmd("SET")
            .arg(self.redis.key(&format!("lease:{key}")))
            .arg(holder.to_string())
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut conn)
            .await
            .context("taking a lease")?;
        Ok(set.is_some())
    }

    async fn renew(&self, key: &str, holder: Uuid, ttl: Duration) -> anyhow::Result<bool> {
        let mut conn = self.redis.pool.get().await.context("getting a Redis connection")?;
        let renewed: i64 = deadpool_redis::redis::cmd("EVAL")
            .arg(RENEW)
            .arg(1)
            .arg(self.redis.key(&format!("lease:{key}")))
            .arg(holder.to_string())
            .arg(millis(ttl))
            .query_async(&mut conn)
            .await
            .context("renewing a lease")?;
        Ok(renewed == 1)
    }

    async fn release(&self, key: &str, holder: Uuid) -> anyhow::Result<()> {
        let mut conn = self.redis.pool.get().await.context("getting a Redis connection")?;
        let _: i64 = deadpool_redis::redis::cmd("EVAL")
            .arg(RELEASE)
            .arg(1)
            .arg(self.redis.key(&format!("lease:{key}")))
            .arg(holder.to_string())
            .query_async(&mut conn)
            .await
            .context("releasing a lease")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_memory_lease_excludes_others_until_released_or_expired() {
        let leases = MemoryLeases::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let ttl = Duration::from_secs(30);
        assert!(leases.acquire("s1", a, ttl).await.unwrap());
        assert!(!leases.acquire("s1", b, ttl).await.unwrap(), "held by a");
        assert!(leases.acquire("s2", b, ttl).await.unwrap(), "keys are independent");
        leases.release("s1", b).await.unwrap();
        assert!(!leases.acquire("s1", b, ttl).await.unwrap(), "only the holder releases");
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(leases.renew("s1", a, ttl).await.unwrap());
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(!leases.acquire("s1", b, ttl).await.unwrap(), "renewed, so still held");
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(!leases.renew("s1", a, ttl).await.unwrap(), "lapsed");
        assert!(leases.acquire("s1", b, ttl).await.unwrap(), "a lapsed lease is free");
        leases.release("s1", b).await.unwrap();
        assert!(leases.acquire("s1", a, ttl).await.unwrap(), "released");
    }
}
