// The chat WebSocket: one per page, reconnecting with backoff and resuming every open session from the last
// message it saw, so a dropped connection loses nothing. The access token travels as a sub-protocol (browsers
// cannot set headers on a WebSocket) and is renewed on the open connection before it expires.

import { accessToken, onSessionChange, refresh } from "./api.js";

const TOKEN_EXPIRED = 4401;

export class ChatSocket {
  constructor() {
    this.ws = null;
    this.handlers = new Set();
    this.sessions = new Map(); // session id -> last message id seen
    this.queue = [];
    this.closed = false;
    this.attempt = 0;
    this.status = "connecting";
    // A refreshed access token is handed to the open connection, which then outlives the old one (an answer being
    // written is never cut off by a reconnect).
    this.stopFollowing = onSessionChange((signedIn) => {
      if (signedIn && this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify({ type: "auth", token: accessToken() }));
      }
    });
    this.connect();
  }

  /** `handler(frame)` for every server frame; also `{type: "socket.status", status}` on (dis)connection. */
  on(handler) {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  emit(frame) {
    for (const handler of this.handlers) handler(frame);
  }

  setStatus(status) {
    this.status = status;
    this.emit({ type: "socket.status", status });
  }

  connect() {
    const token = accessToken();
    if (!token) {
      this.setStatus("offline");
      return;
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/chat/ws`, ["bwenge", `bearer.${token}`]);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setStatus("open");
      // Resume: every session this page had open, from the last message it saw.
      for (const [session_id, last_seen_message_id] of this.sessions) {
        ws.send(JSON.stringify({ type: "session.open", session_id, last_seen_message_id }));
      }
      for (const frame of this.queue.splice(0)) ws.send(JSON.stringify(frame));
    };
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "session.ready") {
        const last = frame.history[frame.history.length - 1];
        this.sessions.set(frame.session.id, last ? last.id : this.sessions.get(frame.session.id) || null);
      }
      this.emit(frame);
    };
    ws.onclose = async (event) => {
      if (this.ws !== ws || this.closed) return;
      this.setStatus("reconnecting");
      if (event.code === TOKEN_EXPIRED) {
        await refresh().catch(() => {});
      }
      const delay = Math.min(10_000, 500 * 2 ** this.attempt++);
      setTimeout(() => !this.closed && this.connect(), delay);
    };
  }

  /** Sends now if connected (true); else queues the frame for the next connection, unless `queue` is false. */
  send(frame, { queue = true } = {}) {
    if (this.open) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    if (queue) this.queue.push(frame);
    return false;
  }

  /** Opens (or, with `personaId`, starts) a session; its frames come to the handlers. */
  openSession({ sessionId, personaId }) {
    if (sessionId) {
      // Not queued: a connection that opens later resumes every session in `sessions` by itself.
      this.sessions.set(sessionId, this.sessions.get(sessionId) || null);
      this.send({ type: "session.open", session_id: sessionId }, { queue: false });
    } else {
      this.send({ type: "session.open", persona_id: personaId });
    }
  }

  /** Stops resuming a session the page has left. */
  forget(sessionId) {
    this.sessions.delete(sessionId);
  }

  get open() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  /** Notes a message the page has shown, so a reconnect resumes after it. */
  seen(sessionId, messageId) {
    if (this.sessions.has(sessionId)) this.sessions.set(sessionId, messageId);
  }

  close() {
    this.closed = true;
    this.stopFollowing();
    if (this.ws) this.ws.close(1000);
  }
}
