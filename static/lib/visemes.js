// Lip sync for read-aloud: the spoken text becomes a track of mouth shapes (visemes), and the mouth follows the
// speech engine's word boundaries through it. Browsers say where each word starts but not when each sound is made,
// so between two boundaries the mouth walks through the word's shapes at an estimated speaking rate, and waits at
// the word's end if the voice is slower than the estimate. Plain module: no DOM, no three.js.

/** The three mouth morph targets an avatar may have (the sample avatar has all three). */
export const MOUTH_TARGETS = ["mouthOpen", "mouthRound", "mouthWide"];

const CLOSED = { mouthOpen: 0, mouthRound: 0, mouthWide: 0 };
// Weights per shape; rough, readable at a glance on a small canvas rather than phonetically exact.
const SHAPES = {
  rest: CLOSED,
  open: { mouthOpen: 0.85, mouthRound: 0, mouthWide: 0.2 }, // a, ah
  wide: { mouthOpen: 0.35, mouthRound: 0, mouthWide: 0.85 }, // e, i, y, ee
  round: { mouthOpen: 0.55, mouthRound: 0.8, mouthWide: 0 }, // o, ou, ow
  pucker: { mouthOpen: 0.2, mouthRound: 1, mouthWide: 0 }, // u, w, oo, qu
  closed: { mouthOpen: 0, mouthRound: 0, mouthWide: 0.1 }, // m, b, p: lips together
  teeth: { mouthOpen: 0.1, mouthRound: 0, mouthWide: 0.35 }, // f, v, ph
  tongue: { mouthOpen: 0.3, mouthRound: 0, mouthWide: 0.3 }, // t, d, n, l, th
  hiss: { mouthOpen: 0.15, mouthRound: 0.1, mouthWide: 0.6 }, // s, z, sh, ch, j, x
  back: { mouthOpen: 0.4, mouthRound: 0.1, mouthWide: 0.1 }, // k, g, r, h, c
};

// Two letters that make one sound, tried before single letters.
const DIGRAPHS = {
  oo: "pucker", ee: "wide", ea: "wide", ou: "round", ow: "round", oa: "round", ai: "open", ay: "open",
  th: "tongue", sh: "hiss", ch: "hiss", ph: "teeth", qu: "pucker", wh: "pucker", ng: "back", ck: "back",
};
const LETTERS = {
  a: "open", e: "wide", i: "wide", y: "wide", o: "round", u: "pucker", w: "pucker",
  m: "closed", b: "closed", p: "closed", f: "teeth", v: "teeth",
  t: "tongue", d: "tongue", n: "tongue", l: "tongue",
  s: "hiss", z: "hiss", j: "hiss", x: "hiss",
  k: "back", g: "back", r: "back", h: "back", c: "back", q: "back",
};

/**
 * The text's mouth shapes by character: `track[i]` is the shape spoken at character `i` (UTF-16 index, as the
 * speech engine's `charIndex` counts). Digits read as open vowels (numbers are said as words); anything that is
 * not a letter is a rest.
 */
export function visemeTrack(text) {
  // Lower-cased a character at a time: a whole-string toLowerCase may change the length (İ), and so the indices.
  const lower = (i) => (text[i] || "").toLowerCase();
  const track = new Array(text.length).fill("rest");
  for (let i = 0; i < text.length; ) {
    const pair = DIGRAPHS[lower(i) + lower(i + 1)];
    if (pair) {
      track[i] = pair;
      track[i + 1] = pair;
      i += 2;
      continue;
    }
    const c = lower(i).normalize("NFD")[0] || ""; // é -> e
    // Digits are said as words, other letters (other scripts) as something open: both move the mouth.
    track[i] = LETTERS[c] || (/[0-9]|\p{L}/u.test(c) ? "open" : "rest");
    i += 1;
  }
  return track;
}

export function shapeWeights(name) {
  return SHAPES[name] || CLOSED;
}

// Speaking rate at `rate = 1`: about 14 characters a second (some 170 words a minute).
const CHARS_PER_SECOND = 14;
// How fast the mouth follows its target: a time constant of ~60 ms, quick enough for syllables, no jitter.
const FOLLOW_PER_SECOND = 16;

/**
 * The mouth while an utterance is spoken: `start`, `boundary` and `end` come from the utterance's events;
 * `weights(now)` is asked each frame and moves smoothly towards the current shape. Closed when nothing is spoken.
 */
export class Mouth {
  constructor() {
    this.current = { ...CLOSED };
    this.utterance = null; // {track, rate, anchorChar, anchorTime, limit}
    this.lastTime = null;
  }

  start(text, { rate = 1, now = performance.now() } = {}) {
    this.utterance = { text, track: visemeTrack(text), rate, anchorChar: 0, anchorTime: now, limit: wordEnd(text, 0) };
  }

  /** A word begins at `charIndex` (the speech engine's count) now. */
  boundary(charIndex, now = performance.now()) {
    const u = this.utterance;
    if (!u) return;
    u.anchorChar = charIndex;
    u.anchorTime = now;
    u.limit = wordEnd(u.text, charIndex);
  }

  end() {
    this.utterance = null;
  }

  /** Where in the text the voice is now, by the estimate: never past the current word before its boundary says. */
  position(now) {
    const u = this.utterance;
    if (!u) return -1;
    const walked = ((now - u.anchorTime) / 1000) * CHARS_PER_SECOND * u.rate;
    return Math.min(u.anchorChar + Math.max(0, walked), u.limit);
  }

  target(now) {
    const u = this.utterance;
    if (!u) return CLOSED;
    const at = Math.floor(this.position(now));
    // Past the word's last letter the voice is between words: lips relax.
    return at >= u.limit ? CLOSED : shapeWeights(u.track[at]);
  }

  /** The smoothed weights for this frame. */
  weights(now = performance.now()) {
    const dt = this.lastTime == null ? 0 : Math.min(0.1, (now - this.lastTime) / 1000);
    this.lastTime = now;
    const goal = this.target(now);
    const k = 1 - Math.exp(-FOLLOW_PER_SECOND * dt);
    for (const name of MOUTH_TARGETS) this.current[name] += (goal[name] - this.current[name]) * k;
    return this.current;
  }

  /** How open the mouth is, all shapes together (0 when closed); what the test hook reports. */
  amount() {
    return MOUTH_TARGETS.reduce((sum, name) => sum + this.current[name], 0);
  }
}

/** The index just after the word that starts at (or after) `from`. */
function wordEnd(text, from) {
  let i = from;
  while (i < text.length && /\s/.test(text[i])) i += 1;
  while (i < text.length && !/\s/.test(text[i])) i += 1;
  return i;
}
