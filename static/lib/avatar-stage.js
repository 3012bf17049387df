// What a conversation tells its avatar: cues to act out when the shown answer reaches them, and the answer's text
// for reading aloud (whose voice moves the mouth). The conversation calls it as frames arrive; the avatar's scene
// attaches when (and if) it has loaded, so the conversation never waits for it. Plain module, no DOM of its own.
import { Mouth } from "./visemes.js";
import { ReadAloud } from "./speech.js";

// A cue that came before the figure had loaded (the greeting, on a fresh page) still plays if it is this recent.
const LATE_CUE_MS = 5000;

const codePoints = (text) => {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
};

export class AvatarStage {
  constructor() {
    this.scene = null;
    this.mouth = new Mouth();
    this.reader = null;
    this.pending = []; // cue frames whose place in the answer is not shown yet
    this.late = null; // {frame, at}: the last cue no scene could play
    this.log = []; // every cue acted on, for the test hook
  }

  /** The scene (lib/avatar-scene.js) is ready, or gone (`null`). */
  attach(scene) {
    this.scene = scene;
    if (scene && this.late && performance.now() - this.late.at < LATE_CUE_MS) this.act(this.late.frame);
    this.late = null;
  }

  setReadAloud(on) {
    if (on && !this.reader) {
      this.reader = new ReadAloud({
        start: (text, rate) => this.mouth.start(text, { rate }),
        boundary: (charIndex) => this.mouth.boundary(charIndex),
        end: () => this.mouth.end(),
      });
    } else if (!on && this.reader) {
      this.reader.cancel();
      this.reader = null;
    }
  }

  /** An `avatar.cue` frame; `shown` is the answer's text on screen now. */
  cue(frame, shown = "") {
    this.pending.push(frame);
    this.release(frame.message_id, codePoints(shown));
  }

  /** The answer `messageId` now shows `content` (after a delta). */
  text(messageId, content) {
    this.release(messageId, codePoints(content));
    if (this.reader) this.reader.feed(messageId, content);
  }

  /** The answer ended: cues left play now; a complete answer is read to its end, a stopped one is not. */
  done(messageId, content, status) {
    this.release(messageId, Infinity);
    if (!this.reader) return;
    if (status === "complete") this.reader.finish(messageId, content);
    else this.reader.cancel();
  }

  /** A new question, a stopped answer, or the conversation left: silence, and no cue from before plays. */
  stop() {
    this.pending = [];
    if (this.reader) this.reader.cancel();
    this.mouth.end();
  }

  release(messageId, shown) {
    const due = this.pending.filter((c) => c.message_id === messageId && c.at_char <= shown);
    if (due.length === 0) return;
    this.pending = this.pending.filter((c) => !due.includes(c));
    for (const frame of due) this.act(frame);
  }

  act(frame) {
    if (!this.scene) {
      this.late = { frame, at: performance.now() };
      return;
    }
    const played = this.scene.cue(frame.cue, frame.clip);
    this.log.push({ cue: frame.cue, clip: frame.clip, at_char: frame.at_char, played });
  }
}
