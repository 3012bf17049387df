// The tutor's 3D figure: a canvas that loads an avatar (three.js comes in only now, by a dynamic import), the
// chat's stage that shows it beside the conversation (or the tutor's initials when it has none), and the Read aloud
// toggle. The figure never holds the conversation up: it loads after the page, and when it cannot be shown a small
// notice says so and the chat goes on.
//
// Reduced motion (`prefers-reduced-motion: reduce`): the figure stands still in its idle clip's first pose; cues
// and speech do not move it (the voice still reads, if asked). A preview button is an explicit request to see a
// clip, so it plays even then.
import { html, useEffect, useRef, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { canSpeak, readAloudPreference, rememberReadAloud } from "../lib/speech.js";
import { track } from "../lib/events.js";

const HIDDEN_KEY = "bwenge.avatarHidden";

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage blocked: defaults
  }
}

function store(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage blocked: the choice lasts for this page only
  }
}

export function prefersReducedMotion() {
  return Boolean(window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches);
}

/** Only a browser test sets this; without it no hook exists. */
const testHooks = () => stored("bwenge.testHooks") === "1";

/**
 * An avatar (an AvatarView with its signed `url`) on a canvas named `label`. `onScene(scene | null)` hears when it
 * is ready and when it is gone; `mouth` moves its lips; `log` is the list of cues the test hook shows.
 */
export function AvatarCanvas({ avatar, label, onScene, mouth = null, log = [], className = "" }) {
  const canvas = useRef(null);
  const scene = useRef(null);
  const [state, setState] = useState("loading");
  useEffect(() => {
    let live = true;
    setState("loading");
    const hooks = testHooks();
    import("../lib/avatar-scene.js")
      .then(({ createAvatarScene }) => createAvatarScene(canvas.current, {
        url: avatar.url,
        mapping: avatar.mapping,
        motion: prefersReducedMotion() ? "still" : "full",
        mouth,
        keepPixels: hooks,
      }))
      .then((ready) => {
        if (!live) return ready.dispose();
        scene.current = ready;
        setState("ready");
        track("avatar_loaded", { data: { avatar_id: avatar.id } });
        if (hooks) exposeHook(ready, canvas.current, mouth, log);
        if (onScene) onScene(ready);
        return null;
      })
      .catch((error) => {
        if (!live) return;
        // The reason is for whoever looks at the console; the page says only that the figure is missing.
        console.warn("avatar:", error);
        setState("failed");
        track("avatar_failed", { data: { avatar_id: avatar.id } });
      });
    return () => {
      live = false;
      if (onScene) onScene(null);
      if (scene.current) scene.current.dispose();
      scene.current = null;
      if (hooks && window.__bwengeAvatar && window.__bwengeAvatar.canvas === canvas.current) delete window.__bwengeAvatar;
    };
  }, [avatar.id]);
  // A mapping saved meanwhile applies to the figure already loaded.
  useEffect(() => {
    if (scene.current) scene.current.setMapping(avatar.mapping);
  }, [avatar.mapping]);

  return html`<div class=${`avatar-canvas ${className} ${state}`} aria-busy=${state === "loading" ? "true" : "false"}>
    ${state !== "failed" && html`<canvas ref=${canvas} role="img" aria-label=${label}></canvas>`}
    ${state === "loading" && html`<p class="avatar-note muted small">${t("avatar.loading")}</p>`}
    ${state === "failed" && html`<p class="avatar-note notice warning small" role="status">${t("avatar.failed")}</p>`}
  </div>`;
}

function exposeHook(scene, canvas, mouth, log) {
  window.__bwengeAvatar = {
    canvas,
    cues: log,
    clipNames: scene.clipNames,
    get clipsPlayed() {
      return scene.state.played.slice();
    },
    get frames() {
      return scene.state.frames;
    },
    mouth: () => (mouth ? mouth.amount() : 0),
    play: (name) => scene.play(name),
  };
}

/**
 * The chat's figure for `persona`: its avatar when it has one, else its initials (which pulse on `cue` "think").
 * `stage` (lib/avatar-stage.js) is how the conversation's cues and voice reach the avatar.
 */
export function TutorAvatar({ persona, stage, cue }) {
  const avatarId = persona && persona.avatar_id;
  const [hidden, setHidden] = useState(() => stored(HIDDEN_KEY) === "1");
  const [avatar, setAvatar] = useState(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    setAvatar(null);
    setFailed(false);
    if (!avatarId || hidden) return undefined;
    let live = true;
    // A fresh view each time the figure is shown: its signed link is short-lived.
    api.get(`/avatars/${avatarId}`).then((view) => live && setAvatar(view), () => live && setFailed(true));
    return () => {
      live = false;
    };
  }, [avatarId, hidden]);

  if (!avatarId) {
    const initials = (persona ? persona.name : "?").split(/\s+/).map((w) => w[0]).join("").slice(0, 2);
    return html`<aside class="avatar-stage" data-cue=${cue} aria-hidden="true">
      <div class="portrait">${initials.toUpperCase()}</div>
    </aside>`;
  }
  const toggle = () => {
    store(HIDDEN_KEY, hidden ? "0" : "1");
    setHidden(!hidden);
  };
  const name = persona.name;
  return html`<aside class=${`avatar-stage figure ${hidden ? "collapsed" : ""}`} aria-label=${t("avatar.region", { name })}>
    ${!hidden && avatar &&
    html`<${AvatarCanvas} avatar=${avatar} label=${t("avatar.label", { name })} mouth=${stage.mouth} log=${stage.log}
      onScene=${(scene) => stage.attach(scene)} />`}
    ${!hidden && !avatar && !failed && html`<p class="avatar-note muted small">${t("avatar.loading")}</p>`}
    ${!hidden && failed && html`<p class="avatar-note notice warning small" role="status">${t("avatar.failed")}</p>`}
    <button type="button" class="link avatar-toggle" aria-expanded=${hidden ? "false" : "true"} onClick=${toggle}>
      ${hidden ? t("avatar.show") : t("avatar.hide")}
    </button>
  </aside>`;
}

/** Read aloud: a toggle button (pressed or not), remembered on this device. Absent where the browser cannot speak. */
export function ReadAloudToggle({ stage }) {
  const [on, setOn] = useState(() => readAloudPreference());
  useEffect(() => {
    stage.setReadAloud(on);
  }, [on, stage]);
  useEffect(() => () => stage.setReadAloud(false), [stage]);
  if (!canSpeak()) return null;
  const flip = () => {
    rememberReadAloud(!on);
    setOn(!on);
  };
  return html`<button type="button" class="toggle read-aloud" aria-pressed=${on ? "true" : "false"} onClick=${flip}>
    <span class="toggle-mark" aria-hidden="true"></span>${t("avatar.read_aloud")}
  </button>`;
}
