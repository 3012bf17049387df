//! Shared infrastructure through the running app's state: the in-process implementations by default, the
//! Redis ones with TEST_REDIS_URL, so both pass the same checks.

use std::time::Duration;

use futures_util::StreamExt;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn rate_limiter_counts_per_key_and_resets_with_the_window() {
    let app = spawn_app().await;
    let limiter = &app.backends.rate_limiter;
    let window = Duration::from_millis(1500);
    for remaining in [1, 0] {
        let decision = limiter.hit("k1", 2, window).await.unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.remaining, remaining);
    }
    let refused = limiter.hit("k1", 2, window).await.unwrap();
    assert!(!refused.allowed);
    assert!(refused.reset_after <= window);
    assert!(limiter.hit("k2", 2, window).await.unwrap().allowed);
    tokio::time::sleep(window + Duration::from_millis(100)).await;
    assert!(limiter.hit("k1", 2, window).await.unwrap().allowed, "a new window starts clean");
}

#[tokio::test]
async fn pubsub_delivers_published_messages_to_subscribers() {
    let app = spawn_app().await;
    let mut events = app.backends.pubsub.subscribe("documents:1").await.unwrap();
    let mut other = app.backends.pubsub.subscribe("documents:2").await.unwrap();
    app.backends.pubsub.publish("documents:1", "progress 50".into()).await.unwrap();
    app.backends.pubsub.publish("documents:2", "other".into()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), events.next()).await.unwrap();
    assert_eq!(got.as_deref(), Some("progress 50"));
    let got = tokio::time::timeout(Duration::from_secs(5), other.next()).await.unwrap();
    assert_eq!(got.as_deref(), Some("other"));
}

#[tokio::test]
async fn with_redis_two_replicas_share_rate_limits_and_events() {
    let Ok(redis_url) = std::env::var("TEST_REDIS_URL") else {
        eprintln!("TEST_REDIS_URL not set: the shared-state check needs Redis");
        return;
    };
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let replica = |prefix: String, url: String| {
        spawn_app_with(move |s| {
            s.redis.url = url.into();
            s.redis.prefix = prefix;
        })
    };
    let a = replica(prefix.clone(), redis_url.clone()).await;
    let b = replica(prefix, redis_url).await;
    let window = Duration::from_secs(60);
    assert!(a.backends.rate_limiter.hit("shared", 1, window).await.unwrap().allowed);
    assert!(!b.backends.rate_limiter.hit("shared", 1, window).await.unwrap().allowed, "replica B sees A's hit");

    let mut on_b = b.backends.pubsub.subscribe("session:9").await.unwrap();
    a.backends.pubsub.publish("session:9", "from A".into()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), on_b.next()).await.unwrap();
    assert_eq!(got.as_deref(), Some("from A"));
}

#[tokio::test]
async fn object_storage_round_trips_through_the_app() {
    let app = spawn_app().await;
    app.backends.objects.put("org/x/blob", bytes::Bytes::from_static(b"data")).await.unwrap();
    assert_eq!(app.backends.objects.get("org/x/blob").await.unwrap(), bytes::Bytes::from_static(b"data"));
    app.backends.objects.delete("org/x/blob").await.unwrap();
}
