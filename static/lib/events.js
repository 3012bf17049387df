// What the app itself saw (a page viewed, a citation opened, the tutor's figure loaded or not), for the dashboards.
// Best effort: events wait in a short queue and go to `POST /events` in batches (every few seconds, and at once when
// the tab is hidden); a failed batch is dropped, never retried, and never shown. Nothing is queued while signed out.
import * as api from "./api.js";

const TYPES = new Set([
  "page_viewed", "citation_opened", "answer_copied", "answer_rated", "avatar_loaded", "avatar_failed", "speech_played",
]);
const BATCH = 20; // the most the server takes in one request
const KEEP = 100; // a queue that cannot drain (offline) stops growing here
const EVERY_MS = 5000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const queue = [];
let timer = null;

/**
 * Records one event: `type` from the allow-list; `fields` may hold `session_id` and `message_id` (ids the server
 * knows; anything else is left out) and `data` (a small object, under 1 KB as JSON).
 */
export function track(type, { session_id: sessionId, message_id: messageId, data } = {}) {
  if (!TYPES.has(type) || !api.accessToken()) return;
  const event = { type };
  if (UUID.test(sessionId || "")) event.session_id = sessionId;
  if (UUID.test(messageId || "")) event.message_id = messageId;
  if (data && typeof data === "object" && JSON.stringify(data).length < 1000) event.data = data;
  if (queue.length >= KEEP) queue.shift();
  queue.push(event);
  if (!timer) timer = setTimeout(() => flush(), EVERY_MS);
}

/** Sends what is queued now, in batches of at most 20. `leaving`: the page may be going away. */
export function flush(leaving = false) {
  clearTimeout(timer);
  timer = null;
  // Events of a session that ended are not sent as somebody else's.
  if (!api.accessToken()) {
    queue.length = 0;
    return;
  }
  while (queue.length) {
    const events = queue.splice(0, BATCH);
    api.request("POST", "/events", { events }, { keepalive: leaving }).catch(() => {});
  }
}

addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") flush(true);
});
