// Read aloud: the browser's own speech synthesis speaks the tutor's answer while it streams, a sentence at a time
// (a sentence is spoken once it is complete, so the voice never stops mid-phrase waiting for the model), and the
// rest when the answer is done. The utterances' events drive the avatar's mouth. The text never leaves the browser;
// only that an answer was read aloud is counted (lib/events.js).
import { track } from "./events.js";

const STORAGE_KEY = "bwenge.readAloud";

/** Whether this browser can speak at all (the toggle is not offered otherwise). */
export function canSpeak() {
  return typeof window !== "undefined" && "speechSynthesis" in window && "SpeechSynthesisUtterance" in window;
}

export function readAloudPreference() {
  try {
    return localStorage.getItem(STORAGE_KEY) === "1";
  } catch {
    return false; // storage blocked: off, the default
  }
}

export function rememberReadAloud(on) {
  try {
    localStorage.setItem(STORAGE_KEY, on ? "1" : "0");
  } catch {
    // storage blocked: the choice lasts for this page only
  }
}

/**
 * What a listener should hear of Markdown: no emphasis marks, code fences, HTML tags, headings' hashes or citation
 * marks (`[2]` would be read as "bracket two"); a link is read by its text.
 */
export function speakable(markdown) {
  return markdown
    .replace(/```[\s\S]*?(```|$)/g, " ")
    .replace(/<(script|style)\b[\s\S]*?(<\/\1\s*>|$)/gi, " ") // raw HTML the page never shows, never read
    .replace(/<\/?[a-z][^>]*>/gi, " ")
    .replace(/\s*\[(\d{1,2})\](?!\()/g, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/^\s{0,3}(#{1,6}|>|[-*+]|\d+\.)\s+/gm, "")
    .replace(/[*_`~]+/g, "")
    .replace(/[ \t]+/g, " ");
}

// A sentence ends at . ! ? … (with closing quotes or brackets) followed by space, or at a line break.
const SENTENCE_END = /[.!?…]+["'”’)\]]*\s+|\n+/g;

/** The index just past the last complete sentence of `text` at or after `from` (`from` when there is none). */
export function lastSentenceEnd(text, from = 0) {
  SENTENCE_END.lastIndex = from;
  let end = from;
  for (let m = SENTENCE_END.exec(text); m; m = SENTENCE_END.exec(text)) end = m.index + m[0].length;
  return end;
}

/**
 * Speaks one answer at a time. `feed(id, text)` with the answer so far queues its new complete sentences (found in
 * the speakable text, which grows by appending as the Markdown does: an open code fence hides all after it);
 * `finish(id, text)` speaks what is left; `cancel()` stops at once (the student stopped the answer, asked again or
 * switched reading off). `events` get `start(text, rate)`, `boundary(charIndex)` and `end()` of each utterance.
 */
export class ReadAloud {
  constructor(events = {}, { rate = 1 } = {}) {
    this.events = events;
    this.rate = rate;
    this.messageId = null;
    this.spoken = 0; // characters of the current answer's speakable text already queued
    this.utterances = new Set();
  }

  feed(messageId, text) {
    if (messageId !== this.messageId) {
      this.cancel();
      this.messageId = messageId;
    }
    const clean = speakable(text);
    const end = lastSentenceEnd(clean, this.spoken);
    if (end > this.spoken) this.say(clean.slice(this.spoken, end));
    this.spoken = Math.max(this.spoken, end);
  }

  finish(messageId, text) {
    if (messageId !== this.messageId) return; // an answer is read aloud only from its start
    const clean = speakable(text);
    if (clean.length > this.spoken) this.say(clean.slice(this.spoken));
    this.spoken = clean.length;
  }

  /** Starts reading a whole answer that is already complete. */
  readWhole(messageId, text) {
    this.cancel();
    this.messageId = messageId;
    this.finish(messageId, text);
  }

  say(part) {
    const text = part.trim();
    if (!text || !canSpeak()) return;
    if (this.heard !== this.messageId) {
      this.heard = this.messageId; // once per answer read aloud, for analytics
      track("speech_played", { message_id: this.messageId });
    }
    const utterance = new window.SpeechSynthesisUtterance(text);
    utterance.rate = this.rate;
    utterance.lang = document.documentElement.lang || "en";
    const done = () => {
      if (!this.utterances.delete(utterance)) return;
      if (this.events.end) this.events.end();
    };
    utterance.addEventListener("start", () => this.events.start && this.events.start(text, this.rate));
    utterance.addEventListener("boundary", (event) => {
      if (event.name !== "sentence" && this.events.boundary) this.events.boundary(event.charIndex);
    });
    utterance.addEventListener("end", done);
    utterance.addEventListener("error", done);
    this.utterances.add(utterance);
    window.speechSynthesis.speak(utterance);
  }

  cancel() {
    const speaking = this.utterances.size > 0;
    this.utterances.clear();
    this.messageId = null;
    this.spoken = 0;
    if (speaking && canSpeak()) window.speechSynthesis.cancel();
    if (speaking && this.events.end) this.events.end();
  }
}
