// The tutor's 3D avatar on a canvas: three.js loads the glTF from its signed link, frames it, idles on its idle
// clip, crossfades to a cue's clip and back, and moves the mouth morph targets from a viseme source. A plain
// module (no app API, no Preact), imported lazily by components/avatar.js: only a page that shows an avatar pays
// for three.js. Rendering stops while the canvas is off-screen or the tab is hidden.
import * as THREE from "../vendor/three.module.js";
import { GLTFLoader } from "../vendor/GLTFLoader.js";
import { MOUTH_TARGETS } from "./visemes.js";

const FADE_SECONDS = 0.3;
const FOV = 28;
// A small figure needs no more than 30 frames a second: half a phone's work at 60 Hz, and it looks the same.
const FRAME_MS = 1000 / 30 - 2;

/** The clip that plays between cues: the mapping's `idle`, else a clip called idle; null when there is none. */
export function idleClipName(clipNames, mapping = {}) {
  if (mapping.idle && clipNames.includes(mapping.idle)) return mapping.idle;
  return clipNames.find((n) => n.toLowerCase() === "idle") || clipNames.find((n) => /idle/i.test(n)) || null;
}

/** A cue's clip: the server's choice, else the avatar's own mapping; null plays nothing. */
export function clipForCue(clipNames, mapping, cue, clip) {
  const name = clip || (mapping && mapping[cue]) || null;
  return name && clipNames.includes(name) ? name : null;
}

/**
 * Loads the model at `url` into `canvas` and starts it. Options:
 * - `mapping`: cue -> clip name (the AvatarView's), for cues that arrive without a clip;
 * - `motion`: "full" (idle loop, cues, mouth) or "still" (the idle clip's first pose, held; only `play()`, an
 *   explicit request, animates: for people who ask their system for reduced motion);
 * - `mouth`: an object with `weights(now)` (lib/visemes.js Mouth), read every frame;
 * - `keepPixels`: keep the drawing buffer so a test can read the canvas (costs speed; test hooks only).
 * Resolves to the controller; rejects when WebGL or the model fails (the caller shows a notice).
 */
export async function createAvatarScene(canvas, { url, mapping = {}, motion = "full", mouth = null, keepPixels = false }) {
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, alpha: true, preserveDrawingBuffer: keepPixels });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  let gltf;
  try {
    gltf = await new GLTFLoader().loadAsync(url);
  } catch (error) {
    renderer.dispose();
    throw error;
  }
  const scene = new THREE.Scene();
  const model = gltf.scene;
  scene.add(model);
  addLights(scene);
  const camera = new THREE.PerspectiveCamera(FOV, 1, 0.01, 100);
  model.updateMatrixWorld(true);
  const box = new THREE.Box3().setFromObject(model);

  const clips = new Map(gltf.animations.map((clip) => [clip.name, clip]));
  const clipNames = [...clips.keys()];
  const idleName = idleClipName(clipNames, mapping);
  const mixer = new THREE.AnimationMixer(model);
  const mouthMeshes = findMouthMeshes(model);
  const jaw = mouthMeshes.length ? null : findJaw(model);
  const state = {
    current: null,
    played: [], // every clip started, in order (what the test hook reports)
    frames: 0,
    busyUntil: 0, // in still motion, the loop runs only until an explicit clip is over
    visible: true,
    pageVisible: !document.hidden,
    raf: 0,
    last: 0,
    disposed: false,
  };

  const fadeTo = (name, { once }) => {
    const action = mixer.clipAction(clips.get(name));
    if (action === state.current && !once) return;
    action.reset();
    action.setLoop(once ? THREE.LoopOnce : THREE.LoopRepeat, once ? 1 : Infinity);
    action.clampWhenFinished = once;
    action.play();
    if (state.current && state.current !== action) action.crossFadeFrom(state.current, FADE_SECONDS, false);
    state.current = action;
    state.played.push(name);
  };
  const toIdle = () => {
    if (idleName) {
      fadeTo(idleName, { once: false });
      // Held still: the pose of the idle clip's first frame, without its breathing.
      if (motion === "still") state.current.paused = true;
    } else if (state.current) {
      state.current.fadeOut(FADE_SECONDS); // no idle clip: back to the rest pose
      state.current = null;
    }
  };
  mixer.addEventListener("finished", (event) => {
    if (event.action === state.current) toIdle();
  });

  const frame = (now) => {
    state.raf = 0;
    if (state.disposed || !running()) {
      state.last = 0; // resume without a jump
      return;
    }
    if (now - state.last >= FRAME_MS) draw(now);
    state.raf = requestAnimationFrame(frame);
  };
  const running = () =>
    state.visible && state.pageVisible && (motion === "full" || performance.now() < state.busyUntil);
  const wake = () => {
    if (!state.raf && !state.disposed && running()) state.raf = requestAnimationFrame(frame);
  };
  const draw = (now = performance.now()) => {
    const dt = state.last ? Math.min(0.1, (now - state.last) / 1000) : 0;
    state.last = now;
    mixer.update(dt);
    const restore = applyMouth(motion === "full" && mouth ? mouth.weights(now) : null, mouthMeshes, jaw);
    renderer.render(scene, camera);
    restore();
    state.frames += 1;
  };

  const resize = () => {
    const width = canvas.clientWidth || canvas.width;
    const height = canvas.clientHeight || canvas.height;
    if (!width || !height) return;
    renderer.setSize(width, height, false);
    frameCamera(camera, box, width / height);
    if (!state.raf) draw();
  };
  const sized = new ResizeObserver(resize);
  sized.observe(canvas);
  const seen = new IntersectionObserver((entries) => {
    state.visible = entries.some((e) => e.isIntersecting);
    wake();
  });
  seen.observe(canvas);
  const onPage = () => {
    state.pageVisible = !document.hidden;
    wake();
  };
  document.addEventListener("visibilitychange", onPage);

  toIdle();
  resize();
  wake();

  return {
    clipNames,
    idleName,
    hasMouth: mouthMeshes.length > 0 || jaw !== null,
    state,
    /**
     * Acts out a cue (with the server's clip, or the mapping's); returns its clip, or null when it has none. Idle
     * means "rest when done": it never cuts a clip short (the server closes every answer with idle right after the
     * answer's last cue, which would otherwise never be seen).
     */
    cue(cue, clip) {
      const name = clipForCue(clipNames, mapping, cue, clip);
      if (!name || motion === "still") return name;
      if (name !== idleName) fadeTo(name, { once: true });
      else if (!(state.current && state.current.loop === THREE.LoopOnce && state.current.isRunning())) toIdle();
      wake();
      return name;
    },
    /** Plays a clip because someone asked to see it (a preview button): also in still motion. */
    play(name) {
      if (!clips.has(name)) return;
      const once = name !== idleName;
      fadeTo(name, { once });
      const seconds = once ? clips.get(name).duration + FADE_SECONDS * 2 : 3;
      state.busyUntil = performance.now() + seconds * 1000 + 100;
      wake();
    },
    /** Setting the mapping afresh (the editor saved a new one). */
    setMapping(next) {
      mapping = next || {};
    },
    setMouth(next) {
      mouth = next;
      wake();
    },
    dispose() {
      state.disposed = true;
      if (state.raf) cancelAnimationFrame(state.raf);
      sized.disconnect();
      seen.disconnect();
      document.removeEventListener("visibilitychange", onPage);
      mixer.stopAllAction();
      mixer.uncacheRoot(model);
      disposeTree(model);
      renderer.dispose();
      // Browsers allow a page only a few live WebGL contexts: give this one back now, not at garbage collection.
      renderer.forceContextLoss();
    },
  };
}

function addLights(scene) {
  scene.add(new THREE.HemisphereLight(0xffffff, 0x8a7f74, 1.8));
  const key = new THREE.DirectionalLight(0xffffff, 2.2);
  key.position.set(1.5, 3, 3);
  scene.add(key);
  const rim = new THREE.DirectionalLight(0xdbeafe, 0.9);
  rim.position.set(-2, 1.5, -2);
  scene.add(rim);
}

/**
 * The camera in front of the model (glTF models face +Z). A standing figure is framed from the waist up, so the
 * face is large enough to read on a small canvas; anything else is framed whole.
 */
export function frameCamera(camera, box, aspect) {
  camera.aspect = aspect;
  const size = box.getSize(new THREE.Vector3());
  const min = box.min.clone();
  if (box.isEmpty() || size.y === 0) {
    camera.position.set(0, 1, 4);
    camera.lookAt(0, 1, 0);
    camera.updateProjectionMatrix();
    return;
  }
  const standing = size.y > 1.3 * Math.max(size.x, size.z);
  if (standing) min.y = box.max.y - size.y * 0.55;
  const region = new THREE.Box3(min, box.max.clone());
  const center = region.getCenter(new THREE.Vector3());
  const height = region.max.y - region.min.y;
  const half = THREE.MathUtils.degToRad(FOV / 2);
  const fitHeight = height / 2 / Math.tan(half);
  const fitWidth = size.x / 2 / (Math.tan(half) * aspect);
  // From the model's front face, with a little room around it.
  const distance = Math.max(fitHeight, fitWidth) * 1.12;
  camera.position.set(center.x, center.y, box.max.z + distance);
  camera.near = Math.max(0.01, distance / 100);
  camera.far = (distance + size.z) * 10;
  camera.lookAt(center);
  camera.updateProjectionMatrix();
}

/** Every mesh with at least one of the mouth morph targets, with their indices. */
function findMouthMeshes(model) {
  const found = [];
  model.traverse((object) => {
    const dictionary = object.isMesh && object.morphTargetDictionary;
    if (!dictionary || !object.morphTargetInfluences) return;
    const indices = MOUTH_TARGETS.map((name) => [name, dictionary[name]]).filter(([, i]) => i !== undefined);
    if (indices.length) found.push({ mesh: object, indices });
  });
  return found;
}

/** Without mouth morph targets, a jaw bone (if the rig has one) opens a little instead. */
function findJaw(model) {
  let jaw = null;
  model.traverse((object) => {
    if (!jaw && object.isBone && /jaw/i.test(object.name)) jaw = object;
  });
  return jaw;
}

/**
 * Adds the mouth's weights on top of what the clips set, for this frame only; returns what undoes it, so the
 * mixer never sees (and never saves as a "rest" value) the speech's mouth.
 */
function applyMouth(weights, meshes, jaw) {
  if (!weights) return () => {};
  const saved = [];
  for (const { mesh, indices } of meshes) {
    for (const [name, index] of indices) {
      const base = mesh.morphTargetInfluences[index];
      saved.push([mesh, index, base]);
      mesh.morphTargetInfluences[index] = Math.min(1, Math.max(base, weights[name]));
    }
  }
  const jawBase = jaw ? jaw.rotation.x : 0;
  if (jaw) jaw.rotation.x = jawBase + weights.mouthOpen * 0.25;
  return () => {
    for (const [mesh, index, base] of saved) mesh.morphTargetInfluences[index] = base;
    if (jaw) jaw.rotation.x = jawBase;
  };
}

function disposeTree(root) {
  root.traverse((object) => {
    if (object.geometry) object.geometry.dispose();
    const materials = Array.isArray(object.material) ? object.material : object.material ? [object.material] : [];
    for (const material of materials) {
      for (const value of Object.values(material)) if (value && value.isTexture) value.dispose();
      material.dispose();
    }
  });
}
