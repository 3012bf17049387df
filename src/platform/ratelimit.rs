//! Fixed-window rate limiting: in process for one replica, in Redis when replicas must share the counts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;

use super::redis::Redis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub remaining: u32,
    /// When the current window ends; what `Retry-After` says when refused.
    pub reset_after: Duration,
}

#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one hit on `key` and says whether it is within `limit` hits per `window`.
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> anyhow::Result<RateDecision>;
    /// The same answer as `hit` would give for one more hit, without counting one (limits that only count
    /// failures check first and count after).
    async fn peek(&self, key: &str, limit: u32) -> anyhow::Result<RateDecision>;
}

fn decide(count: u64, limit: u32, reset_after: Duration) -> RateDecision {
    let allowed = count <= u64::from(limit);
    let remaining = u64::from(limit).saturating_sub(count);
    RateDecision { allowed, remaining: u32::try_from(remaining).unwrap_or(u32::MAX), reset_after }
}

#[derive(Default)]
pub struct MemoryRateLimiter {
    windows: Mutex<HashMap<String, (tokio::time::Instant, u64)>>,
}

#[async_trait::async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> anyhow::Result<RateDecision> {
        let now = tokio::time::Instant::now();
        let mut windows = self.windows.lock().map_err(|_| anyhow::anyhow!("rate limiter lock poisoned"))?;
        // Forget finished windows now and then, so one-off keys (an attacker's IPs) do not pile up.
        if windows.len() > 10_000 {
            windows.retain(|_, (ends, _)| *ends > now);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now + window, 0));
        if entry.0 <= now {
            *entry = (now + window, 0);
        }
        entry.1 += 1;
        Ok(decide(entry.1, limit, entry.0 - now))
    }

    async fn peek(&self, key: &str, limit: u32) -> anyhow::Result<RateDecision> {
        let now = tokio::time::Instant::now();
        let windows = self.windows.lock().map_err(|_| anyhow::anyhow!("rate limiter lock poisoned"))?;
        Ok(match windows.get(key) {
            Some((ends, count)) if *ends > now => decide(count + 1, limit, *ends - now),
            _ => decide(1, limit, Duration::ZERO),
        })
    }
}

pub struct RedisRateLimiter {
    redis: Redis,
}

impl RedisRateLimiter {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }
}

#[async_trait::async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, key: &str, limit: u32, window: Duration) -> anyhow::Result<RateDecision> {
        let mut conn = self.redis.pool.get().await.context("getting a Redis connection")?;
        let key = self.redis.key(&format!("rl:{key}"));
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        // One atomic round trip; `NX` lets only the window's first hit set its expiry (Redis >= 7).
        let (count, ttl_ms): (u64, i64) = deadpool_redis::redis::pipe()
            .atomic()
            .incr(&key, 1)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(window_ms)
            .arg("NX")
            .ignore()
            .pttl(&key)
            .query_async(&mut conn)
            .await
            .context("rate limit counter")?;
        Ok(decide(count, limit, Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0))))
    }

    async fn peek(&self, key: &str, limit: u32) -> anyhow::Result<RateDecision> {
        let mut conn = self.redis.pool.get().await.context("getting a Redis connection")?;
        let key = self.redis.key(&format!("rl:{key}"));
        let (count, ttl_ms): (Option<u64>, i64) = deadpool_redis::redis::pipe()
            .get(&key)
            .pttl(&key)
            .query_async(&mut conn)
            .await
            .context("rate limit peek")?;
        let reset = Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0));
        Ok(decide(count.unwrap_or(0) + 1, limit, reset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn memory_limiter_refuses_past_the_limit_and_resets_with_the_window() {
        let limiter = MemoryRateLimiter::default();
        let window = Duration::from_secs(60);
        for remaining in [2, 1, 0] {
            let d = limiter.hit("ip:1", 3, window).await.unwrap();
            assert!(d.allowed);
            assert_eq!(d.remaining, remaining);
        }
        let refused = limiter.hit("ip:1", 3, window).await.unwrap();
        assert!(!refused.allowed);
        assert!(refused.reset_after <= window && refused.reset_after > Duration::ZERO);
        assert!(limiter.hit("ip:2", 3, window).await.unwrap().allowed, "keys are independent");
        assert!(!limiter.peek("ip:1", 3).await.unwrap().allowed, "peek agrees with the count");
        assert!(limiter.peek("ip:3", 3).await.unwrap().allowed);
        tokio::time::advance(window).await;
        assert!(limiter.peek("ip:1", 3).await.unwrap().allowed, "peek sees the window end");
        assert!(limiter.hit("ip:1", 3, window).await.unwrap().allowed);
    }
}
