//! The web app's own events (`POST /events`): an allow-list of types, a bounded `data` object, ids that must be
//! the caller's own, and a per-person rate limit. Server-side events come from the other domains (see `recorder`).

use std::time::Duration;

use chrono::Utc;

use super::AnalyticsService;
use crate::analytics::error::AnalyticsError;
use crate::analytics::recorder::Activity;
use crate::analytics::views::ClientEvents;
use crate::auth::{AuthUser, Credential};

/// What a client may report about itself.
pub const CLIENT_TYPES: [&str; 7] = [
    "page_viewed",
    "citation_opened",
    "answer_copied",
    "answer_rated",
    "avatar_loaded",
    "avatar_failed",
    "speech_played",
];
const PER_REQUEST: usize = 20;
const DATA_BYTES: usize = 1024;

impl AnalyticsService {
    pub async fn client_events(&self, caller: &AuthUser, body: ClientEvents) -> Result<usize, AnalyticsError> {
        let n = body.events.len();
        if n == 0 || n > PER_REQUEST {
            return Err(AnalyticsError::invalid("invalid_event", format!("send 1 to {PER_REQUEST} events")));
        }
        for (i, event) in body.events.iter().enumerate() {
            let bad = |why: &str| AnalyticsError::invalid("invalid_event", format!("events[{i}]: {why}"));
            if !CLIENT_TYPES.contains(&event.kind.as_str()) {
                return Err(bad(&format!("type must be one of {}", CLIENT_TYPES.join(", "))));
            }
            if let Some(data) = &event.data {
                let size = serde_json::to_string(data).map_or(usize::MAX, |s| s.len());
                if size > DATA_BYTES {
                    return Err(bad(&format!("data must be at most {DATA_BYTES} bytes of JSON")));
                }
            }
            if event.kind == "answer_rated" {
                let rating = event.data.as_ref().and_then(|d| d.get("rating")).and_then(|r| r.as_str());
                if !matches!(rating, Some("up" | "down")) || event.message_id.is_none() {
                    return Err(bad("answer_rated takes a message_id and data {\"rating\": \"up\"|\"down\"}"));
                }
            }
        }
        let per_minute = self.backends.config.analytics.client_events_per_minute;
        let key = match caller.credential {
            Credential::ApiKey { id, .. } => format!("analytics:events:key:{id}"),
            _ => format!("analytics:events:user:{}", caller.user_id),
        };
        // One hit per event, so twenty in one request count as twenty.
        for _ in 0..n {
            let decision = self.backends.rate_limiter.hit(&key, per_minute, Duration::from_secs(60)).await?;
            if !decision.allowed {
                return Err(AnalyticsError::RateLimited(decision.reset_after.as_secs().max(1)));
            }
        }
        let user_id = matches!(caller.credential, Credential::Session { .. }).then_some(caller.user_id);
        let at = Utc::now();
        for event in body.events {
            self.recorder.record(Activity::Client {
                org_id: caller.org_id,
                user_id,
                kind: event.kind,
                session_id: event.session_id,
                message_id: event.message_id,
                data: event.data.map(serde_json::Value::Object),
                at,
            });
        }
        Ok(n)
    }
}
