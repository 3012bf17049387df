//! Fixed-window rate limiting: in process for one replica, in Redis when replicas must share the counts.
//!
//! Keys often carry what a client sent (an email, an address), so both stores keep only a fixed-size hash of
//! each key, and the in-process one holds at most [`MAX_KEYS`] windows: a flood of one-off keys costs bounded
//! memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::redis::Redis;

const UNDO: &str = "if (tonumber(redis.call('GET', KEYS[1])) or 0) > 0 then return redis.call('DECR', KEYS[1]) \
                    else return 0 end";

/// Windows the in-process limiter holds at most (about 100 bytes each).
pub const MAX_KEYS: usize = 100_000;

/// The stored form of a key: 32 bytes of SHA-256, hex-encoded, whatever the key's length.
fn hashed(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

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
    /// The same answer as `hit` would give for one more hit, without counting one.
    async fn peek(&self, key: &str, limit: u32) -> anyhow::Result<RateDecision>;
    /// Takes back one hit counted on `key` in its current window (a limit on failures counts every attempt
    /// before it runs, so concurrent attempts cannot slip past it, and takes back the ones that succeed).
    async fn undo(&self, key: &str) -> anyhow::Result<()>;
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
        let key = hashed(key);
        let mut windows = self.windows.lock().map_err(|_| anyhow::anyhow!("rate limiter lock poisoned"))?;
        if windows.len() >= MAX_KEYS && !windows.contains_key(&key) {
            // Finished windows go first; if the table is still full of live ones (a flood of one-off keys), the
            // tenth that end soonest go too: they were about to reset anyway.
            windows.retain(|_, (ends, _)| *ends > now);
            if windows.len() >= MAX_KEYS {
                let mut ends: Vec<tokio::time::Instant> = windows.values().map(|(ends, _)| *ends).collect();
                let cut = MAX_KEYS / 10;
                ends.select_nth_unstable(cut);
                let threshold = ends[cut];
                windows.retain(|_, (ends, _)| *ends > threshold);
            }
        }
        let entry = windows.entry(key).or_insert((now + window, 0));
        if entry.0 <= now {
            *entry = (now + window, 0);
        }
        entry.1 += 1;
        Ok(decide(entry.1, limit, entry.0 - now))
    }

    async fn peek(&self, key: &str, limit: u32) -> anyhow::Result<RateDecision> {
        let now = tokio::time::Instant::now();
        let windows = self.windows.lock().map_err(|_| anyhow::anyhow!("rate limiter lock poisoned"))?;
        Ok(match windows.get(&hashed(key)) {
            Some((ends, count)) if *ends > now => decide(count + 1, limit, *ends - now),
            _ => decide(1, limit, Duration::ZERO),
        })
    }

    async fn undo(&self, key: &str) -> anyhow::Result<()> {
        let now = tokio::time::Instant::now();
        let mut windows = self.windows.lock().map_err(|_| anyhow::anyhow!("rate limiter lock poisoned"))?;
        if let Some((ends, count)) = windows.get_mut(&hashed(key))
            && *ends > now
        {
            *count = count.saturating_sub(1);
        }
        Ok(())
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
        let key = self.redis.key(&format!("rl:{}", hashed(key)));
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
        let key = self.redis.key(&format!("rl:{}", hashed(key)));
        let (count, ttl_ms): (Option<u64>, i64) = deadpool_redis::redis::pipe()
            .get(&key)
            .pttl(&key)
            .query_async(&mut conn)
            .await
            .context("rate limit peek")?;
        let reset = Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0));
        Ok(decide(count.unwrap_or(0) + 1, limit, reset))
    }

    async fn undo(&self, key: &str) -> anyhow::Result<()> {
        let mut conn = self.redis.pool.get().await.context("getting a Redis connection")?;
        let key = self.redis.key(&format!("rl:{}", hashed(key)));
        // Only a live window is taken back from: DECR on a missing key would create one that never expires.
        let _: i64 = deadpool_redis::redis::cmd("EVAL")
            .arg(UNDO)
            .arg(1)
            .arg(key)
            .query_async(&mut conn)
            .await
            .context("rate limit undo")?;
        Ok(())
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
        limiter.undo("ip:1").await.unwrap();
        assert!(!limiter.peek("ip:1", 3).await.unwrap().allowed, "three hits still count");
        limiter.undo("ip:1").await.unwrap();
        assert!(limiter.peek("ip:1", 3).await.unwrap().allowed, "an undone hit no longer counts");
        tokio::time::advance(window).await;
        assert!(limiter.peek("ip:1", 3).await.unwrap().allowed, "peek sees the window end");
        assert!(limiter.hit("ip:1", 3, window).await.unwrap().allowed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_one_off_keys_stays_bounded_and_keys_are_stored_hashed() {
        let limiter = MemoryRateLimiter::default();
        let window = Duration::from_secs(900);
        let long = "x".repeat(100_000);
        assert!(limiter.hit(&long, 1, window).await.unwrap().allowed);
        for n in 0..MAX_KEYS + 5_000 {
            limiter.hit(&format!("auth:login-failures:{n}@example.org"), 10, window).await.unwrap();
            if n % 10_000 == 0 {
                tokio::time::advance(Duration::from_millis(1)).await;
            }
        }
        let windows = limiter.windows.lock().unwrap();
        assert!(windows.len() <= MAX_KEYS, "{} windows held", windows.len());
        assert!(windows.keys().all(|k| k.len() == 64), "keys are fixed-size hashes");
    }
}
