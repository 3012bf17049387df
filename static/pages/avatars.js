// Avatars: the organisation's 3D tutor figures. Staff upload a glTF model (checked by the server, which reports
// what is wrong by code), preview its clips, choose which clip acts out each cue, and delete one (unlinking it from
// the tutors that show it, if they say so). Tutors pick theirs in the persona editor.
import { html, useEffect, useRef, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { bytes } from "../lib/format.js";
import { AvatarError, AvatarPreview, MappingEditor } from "../components/avatar-preview.js";
import { Confirm, ErrorNotice, Field, Loading, Notice, ProgressBar, useLoad } from "../components/ui.js";

export function Avatars({ query }) {
  const list = useLoad(() => api.get("/avatars?per_page=100"), []);
  const [selected, setSelected] = useState(query.avatar || null);
  const [confirm, setConfirm] = useState(null);
  const [error, setError] = useState(null);
  const detail = useRef(null);
  const items = list.data ? list.data.items : [];

  const show = (id) => {
    setSelected(id);
    // The preview opens below the list: bring it into view and to the keyboard.
    requestAnimationFrame(() => detail.current && detail.current.focus());
  };
  const removed = (id) => {
    if (selected === id) setSelected(null);
    list.reload();
  };
  const askDelete = (avatar) => setConfirm({
    title: t("avatars.delete_title", { name: avatar.name }),
    body: t("avatars.delete_body"),
    label: t("common.delete"),
    run: async () => {
      try {
        await api.del(`/avatars/${avatar.id}`);
        removed(avatar.id);
      } catch (err) {
        if (err.code !== "avatar_in_use") throw err;
        // Tutors still show it: say so, and offer to unlink them too.
        setConfirm({
          title: t("avatars.in_use_title", { name: avatar.name }),
          body: t("avatars.in_use_body"),
          label: t("avatars.unlink_delete"),
          run: async () => {
            await api.del(`/avatars/${avatar.id}?force=true`);
            removed(avatar.id);
          },
        });
      }
    },
  });
  const runConfirm = async () => {
    const current = confirm;
    setError(null);
    try {
      await current.run();
      setConfirm((c) => (c === current ? null : c));
    } catch (err) {
      setConfirm(null);
      setError(err);
    }
  };

  return html`<section>
    <h1>${t("avatars.title")}</h1>
    <p class="muted">${t("avatars.intro")}</p>
    <${Upload} onUploaded=${(avatar) => { list.reload(); show(avatar.id); }} />
    <${ErrorNotice} error=${list.error} />
    <${AvatarError} error=${error} />
    ${list.loading && !list.data ? html`<${Loading} />` : null}
    ${list.data && items.length === 0 && html`<p>${t("avatars.none")}</p>`}
    ${items.length > 0 && html`<${AvatarTable} items=${items} onShow=${show} onDelete=${askDelete} />`}
    ${selected && html`<div ref=${detail} tabindex="-1" class="avatar-detail-wrap">
      <${AvatarDetail} key=${selected} id=${selected} onSaved=${list.reload} />
    </div>`}
    <${Confirm} open=${Boolean(confirm)} title=${confirm ? confirm.title : ""} body=${confirm ? confirm.body : ""}
      confirmLabel=${confirm ? confirm.label : ""} danger onCancel=${() => setConfirm(null)} onConfirm=${runConfirm} />
  </section>`;
}

function AvatarTable({ items, onShow, onDelete }) {
  return html`<div class="table-wrap"><table class="avatars">
    <caption class="visually-hidden">${t("avatars.title")}</caption>
    <thead><tr>
      <th scope="col">${t("avatars.name")}</th><th scope="col">${t("avatars.clips")}</th>
      <th scope="col">${t("avatars.morphs")}</th><th scope="col">${t("avatars.size")}</th>
      <th scope="col">${t("avatars.geometry")}</th>
      <th scope="col"><span class="visually-hidden">${t("common.actions")}</span></th>
    </tr></thead>
    <tbody>
      ${items.map(
        (a) => html`<tr key=${a.id}>
          <td><strong>${a.name}</strong>${a.sample && html` <span class="badge">${t("avatars.sample")}</span>`}
            <br /><span class="muted small">${a.file_name}</span></td>
          <td>${a.animations.length ? a.animations.map((c) => c.name).join(", ") : t("avatars.none_short")}</td>
          <td>${a.morph_targets.length ? a.morph_targets.join(", ") : t("avatars.none_short")}</td>
          <td>${bytes(a.size_bytes)}</td>
          <td>${t("avatars.counts", { vertices: a.stats.vertices, triangles: a.stats.triangles })}</td>
          <td class="actions">
            <button type="button" onClick=${() => onShow(a.id)}
              aria-label=${t("avatars.preview_named", { name: a.name })}>${t("avatars.preview")}</button>
            <button type="button" class="danger" onClick=${() => onDelete(a)}
              aria-label=${t("avatars.delete_named", { name: a.name })}>${t("common.delete")}</button>
          </td>
        </tr>`,
      )}
    </tbody>
  </table></div>`;
}

/** One avatar, fetched afresh (its signed link is short-lived): the figure with its clips, and its mapping. */
function AvatarDetail({ id, onSaved }) {
  const avatar = useLoad(() => api.get(`/avatars/${id}`), [id]);
  const [view, setView] = useState(null);
  useEffect(() => setView(avatar.data), [avatar.data]);
  if (avatar.error) return html`<${AvatarError} error=${avatar.error} />`;
  if (!view) return html`<${Loading} />`;
  const saved = (updated) => {
    setView({ ...view, mapping: updated.mapping });
    onSaved();
  };
  return html`<section class="card avatar-detail" aria-labelledby="avatar-detail-title">
    <h2 id="avatar-detail-title">${view.name}</h2>
    <div class="avatar-detail-body">
      <${AvatarPreview} avatar=${view} />
      <${MappingEditor} avatar=${view} onSaved=${saved} />
    </div>
  </section>`;
}

/** One model file up, with a progress bar while its bytes leave the browser. */
function Upload({ onUploaded }) {
  const [file, setFile] = useState(null);
  const [name, setName] = useState("");
  const [sent, setSent] = useState(null); // null: not uploading; 0..1 while it is
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const input = useRef(null);
  const submit = async (event) => {
    event.preventDefault();
    if (!file || sent !== null) return;
    setError(null);
    setDone(null);
    setSent(0);
    try {
      const avatar = await api.uploadAvatar(file, name.trim(), setSent);
      setDone(avatar.name);
      setFile(null);
      setName("");
      if (input.current) input.current.value = "";
      onUploaded(avatar);
    } catch (err) {
      setError(err);
    } finally {
      setSent(null);
    }
  };
  return html`<form class="card avatar-upload" onSubmit=${submit}>
    <h2>${t("avatars.upload")}</h2>
    <div class="field">
      <label for="avatar-file">${t("avatars.file")}</label>
      <input id="avatar-file" ref=${input} type="file" accept=".glb,.gltf,model/gltf-binary,model/gltf+json"
        aria-describedby="avatar-file-hint" onChange=${(e) => setFile(e.target.files[0] || null)} />
      <p class="hint" id="avatar-file-hint">${t("avatars.file_hint")}</p>
    </div>
    <${Field} label=${t("avatars.name_optional")} value=${name} onInput=${setName} maxlength="120"
      hint=${t("avatars.name_hint")} />
    ${sent !== null && html`<${ProgressBar} value=${sent * 100} label=${t("avatars.uploading", { name: file.name })} />`}
    <${AvatarError} error=${error} upload />
    ${done && html`<${Notice} kind="success"><p>${t("avatars.uploaded", { name: done })}</p><//>`}
    <button class="primary" type="submit" disabled=${!file || sent !== null}>${t("avatars.upload_button")}</button>
  </form>`;
}
