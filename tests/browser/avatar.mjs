// The tutor's 3D figure in the journey: a stand-in for the browser's speech synthesis (headless Chromium has no
// voices), and checks that read what the page shows through its test hook (`window.__bwengeAvatar`, present only
// when localStorage `bwenge.testHooks` is "1").

/** Every page of `context` gets the figure's test hook and the speech stand-in below. */
export async function watchFigures(context) {
  await context.addInitScript(() => {
    try {
      localStorage.setItem("bwenge.testHooks", "1");
    } catch {} // a document without storage (about:blank) has no figure either
  });
  await context.addInitScript(fakeSpeech);
}

/**
 * Runs in the page before its scripts (addInitScript): speaks one queued utterance at a time, a `boundary` event per
 * word every 150 ms, then `end`; `cancel()` interrupts as browsers do. Every utterance's text lands in
 * `window.__spoken`.
 */
export function fakeSpeech() {
  const queue = [];
  let speaking = null;
  let timer = null;
  window.__spoken = [];
  const fire = (utterance, type, extra = {}) => {
    const event = new Event(type);
    Object.assign(event, { charIndex: 0, name: "word", utterance }, extra);
    utterance.dispatchEvent(event);
  };
  const next = () => {
    speaking = queue.shift() || null;
    if (!speaking) return;
    const utterance = speaking;
    window.__spoken.push(utterance.text);
    fire(utterance, "start");
    const words = [...utterance.text.matchAll(/\S+/g)].map((m) => m.index);
    let i = 0;
    timer = setInterval(() => {
      if (i < words.length) {
        fire(utterance, "boundary", { charIndex: words[i++] });
        return;
      }
      clearInterval(timer);
      speaking = null;
      fire(utterance, "end");
      next();
    }, 150);
  };
  window.SpeechSynthesisUtterance = class extends EventTarget {
    constructor(text) {
      super();
      Object.assign(this, { text, rate: 1, lang: "en" });
    }
  };
  const synth = {
    speak(utterance) {
      queue.push(utterance);
      if (!speaking) next();
    },
    cancel() {
      queue.length = 0;
      clearInterval(timer);
      const interrupted = speaking;
      speaking = null;
      if (interrupted) fire(interrupted, "error", { error: "interrupted" });
    },
    get speaking() {
      return Boolean(speaking);
    },
    getVoices: () => [],
  };
  Object.defineProperty(window, "speechSynthesis", { value: synth, configurable: true });
}

/**
 * The figure named `label` is drawn (a good share of its canvas is not transparent) and moving (two pictures of it a
 * moment apart differ). Returns the share of its pixels drawn.
 */
export async function figureLives(page, label) {
  const figure = page.getByRole("img", { name: label });
  await figure.waitFor();
  await figure.scrollIntoViewIfNeeded(); // off-screen, a figure rightly stops drawing
  await page.waitForFunction(() => window.__bwengeAvatar && window.__bwengeAvatar.frames > 2, null, { timeout: 60_000 });
  const drawn = await page.evaluate(() => {
    const source = window.__bwengeAvatar.canvas;
    const copy = document.createElement("canvas");
    copy.width = source.width;
    copy.height = source.height;
    const context = copy.getContext("2d");
    context.drawImage(source, 0, 0);
    const pixels = context.getImageData(0, 0, copy.width, copy.height).data;
    let opaque = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) opaque += 1;
    return opaque / (pixels.length / 4);
  });
  if (drawn < 0.05) throw new Error(`${label}: the canvas is blank (${drawn} drawn)`);
  // Moving: a later picture differs from the first. Polled for a few seconds, since on a loaded machine the
  // browser may draw few frames in any one moment (a single 600 ms look once saw none).
  const first = await figure.screenshot();
  let moved = false;
  for (let look = 0; look < 10 && !moved; look += 1) {
    await page.waitForTimeout(500);
    moved = !first.equals(await figure.screenshot());
  }
  if (!moved) throw new Error(`${label}: the figure does not move`);
  return drawn;
}

/** Whether `wanted` appear in `played` in this order (other clips, such as idle, may come between). */
export function inOrder(played, wanted) {
  let at = 0;
  for (const clip of played) if (clip === wanted[at]) at += 1;
  return at === wanted.length;
}
