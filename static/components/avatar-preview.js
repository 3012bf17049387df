// An avatar as staff see it: the figure with a button per clip, the cue -> clip mapping editor, and avatar errors
// in the reader's words. Shared by the avatars page and the persona editor.
import { html, useEffect, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { errorMessage } from "../lib/errors.js";
import { AvatarCanvas } from "./avatar.js";
import { Notice, Select } from "./ui.js";

/** The tutor's cues, in the order a lesson meets them (the server's list). */
export const CUES = ["greet", "think", "explain", "encourage", "celebrate", "idle"];

// Codes whose server message names what to fix (which clip, which limit, which reference).
const DETAILED = ["invalid_model", "external_uri", "model_too_large", "unknown_clip", "unknown_cue"];

/** An avatar error in the reader's words; an upload's own words first for codes the document upload shares. */
function avatarErrorText(error, upload) {
  const key = `avatars.upload_errors.${error.code}`;
  const own = upload ? t(key) : key;
  return own === key ? errorMessage(error) : own;
}

export function AvatarError({ error, upload = false }) {
  if (!error) return null;
  return html`<div class="notice error" role="alert">
    <p>${avatarErrorText(error, upload)}</p>
    ${DETAILED.includes(error.code) && error.message &&
    html`<p class="small">${t("avatars.detail", { detail: error.message })}</p>`}
    ${error.requestId && html`<p class="small">${t("errors.request_id", { id: error.requestId })}</p>`}
  </div>`;
}

/** The figure, and a button for each of its clips (each plays once, then the figure idles again). */
export function AvatarPreview({ avatar, small = false }) {
  const [scene, setScene] = useState(null);
  const clips = avatar.animations || [];
  return html`<div class=${`avatar-preview ${small ? "small" : ""}`}>
    <${AvatarCanvas} avatar=${avatar} label=${t("avatars.preview_label", { name: avatar.name })} onScene=${setScene} />
    ${clips.length === 0
      ? html`<p class="muted small">${t("avatars.no_clips")}</p>`
      : html`<div class="clip-buttons" role="group" aria-label=${t("avatars.clips_of", { name: avatar.name })}>
          ${clips.map(
            (clip) => html`<button type="button" disabled=${!scene} onClick=${() => scene && scene.play(clip.name)}>
              ${t("avatars.play", { clip: clip.name })}</button>`,
          )}
        </div>`}
  </div>`;
}

/** Which clip each cue plays: a select per cue (its clips, or none), saved with PUT. */
export function MappingEditor({ avatar, onSaved }) {
  const [mapping, setMapping] = useState(avatar.mapping || {});
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => setMapping(avatar.mapping || {}), [avatar.id]);
  const clips = (avatar.animations || []).map((c) => c.name);
  const options = [{ value: "", label: t("avatars.no_clip") }, ...clips.map((name) => ({ value: name, label: name }))];
  const choose = (cue) => (clip) => {
    setSaved(false);
    const next = { ...mapping };
    if (clip) next[cue] = clip;
    else delete next[cue];
    setMapping(next);
  };
  const save = async (event) => {
    event.preventDefault();
    setError(null);
    setSaved(false);
    try {
      const updated = await api.put(`/avatars/${avatar.id}/mapping`, { mapping });
      setSaved(true);
      if (onSaved) onSaved(updated);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="mapping" onSubmit=${save}>
    <fieldset>
      <legend>${t("avatars.mapping")}</legend>
      <p class="muted small">${t("avatars.mapping_hint")}</p>
      <div class="mapping-grid">
        ${CUES.map(
          (cue) => html`<${Select} key=${cue} label=${t(`avatars.cue.${cue}`)} value=${mapping[cue] || ""}
            onChange=${choose(cue)} options=${options} />`,
        )}
      </div>
    </fieldset>
    <${AvatarError} error=${error} />
    ${saved && html`<${Notice} kind="success"><p>${t("avatars.mapping_saved")}</p><//>`}
    <button class="primary" type="submit">${t("avatars.save_mapping")}</button>
  </form>`;
}
