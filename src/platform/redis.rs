//! The optional Redis connection pool shared by rate limits and pub/sub when several replicas run.

use anyhow::Context;
use deadpool_redis::{Config, Pool, Runtime};

#[derive(Clone)]
pub struct Redis {
    pub pool: Pool,
    /// Kept for pub/sub, which needs a dedicated connection outside the pool.
    pub client: deadpool_redis::redis::Client,
    pub prefix: String,
}

impl Redis {
    pub fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let pool = Config::from_url(url).create_pool(Some(Runtime::Tokio1)).context("creating the Redis pool")?;
        let client = deadpool_redis::redis::Client::open(url).context("redis.url is not a Redis URL")?;
        Ok(Self { pool, client, prefix: prefix.to_owned() })
    }

    pub fn key(&self, parts: &str) -> String {
        format!("{}:{parts}", self.prefix)
    }

    pub async fn health(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.get().await.context("getting a Redis connection")?;
        let pong: String = deadpool_redis::redis::cmd("PING").query_async(&mut conn).await.context("Redis PING")?;
        anyhow::ensure!(pong == "PONG", "Redis answered {pong:?} to PING");
        Ok(())
    }
}
