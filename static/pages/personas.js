// Tutor personas: the list, and the editor (tone, teaching mode, instructions, greeting, the collections it draws
// on, its 3D avatar, model settings) with a "try it" conversation beside it that always runs the saved persona.
import { html, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { navigate } from "../lib/router.js";
import { Conversation } from "../components/conversation.js";
import { AvatarError, AvatarPreview } from "../components/avatar-preview.js";
import { Confirm, ErrorNotice, Field, Loading, Notice, Select, useLoad } from "../components/ui.js";

const BLANK = {
  name: "", description: "", tone: "", teaching_mode: "direct", instructions: "", greeting: "",
  collection_ids: [], model: "", temperature: 0.7, max_tokens: 1024, avatar_id: "",
};

export function Personas() {
  const personas = useLoad(() => api.get("/personas?per_page=100"), []);
  return html`<section>
    <div class="section-head">
      <h1>${t("personas.title")}</h1>
      <a class="button primary" href="/personas/new">${t("personas.new")}</a>
    </div>
    <p class="muted">${t("personas.intro")}</p>
    <${ErrorNotice} error=${personas.error} />
    ${personas.loading && !personas.data ? html`<${Loading} />` : null}
    ${personas.data && personas.data.items.length === 0 && html`<p>${t("personas.none")}</p>`}
    ${personas.data &&
    html`<ul class="cards">
      ${personas.data.items.map(
        (p) => html`<li class="card">
          <h2><a href=${`/personas/${p.id}`}>${p.name}</a></h2>
          ${p.description && html`<p>${p.description}</p>`}
          <p class="muted small">${t(`personas.mode_${p.teaching_mode}`)} ·
            ${t("personas.collections_n", { n: p.collection_ids.length })}</p>
        </li>`,
      )}
    </ul>`}
  </section>`;
}

function toForm(persona) {
  return {
    ...BLANK, ...persona, model: persona.model || "", instructions: persona.instructions || "",
    avatar_id: persona.avatar_id || "",
  };
}

function toBody(form) {
  return {
    name: form.name, description: form.description, tone: form.tone, teaching_mode: form.teaching_mode,
    instructions: form.instructions, greeting: form.greeting, collection_ids: form.collection_ids,
    model: form.model.trim() ? form.model.trim() : null,
    temperature: Number(form.temperature), max_tokens: Number(form.max_tokens),
    avatar_id: form.avatar_id || null,
  };
}

export function PersonaEditor({ id }) {
  const creating = id === "new";
  const persona = useLoad(() => (creating ? Promise.resolve(null) : api.get(`/personas/${id}`)), [id]);
  const collections = useLoad(() => api.get("/collections?per_page=100"), []);
  if (persona.error) return html`<${ErrorNotice} error=${persona.error} />`;
  if (!creating && !persona.data) return html`<${Loading} />`;
  return html`<${Editor} key=${id} creating=${creating} initial=${creating ? BLANK : toForm(persona.data)}
    collections=${collections.data ? collections.data.items : []} saved=${persona.data} onSaved=${persona.reload} />`;
}

function Editor({ creating, initial, collections, saved, onSaved }) {
  const [form, setForm] = useState(initial);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const [trial, setTrial] = useState(0);
  const set = (key) => (value) => {
    setDone(false);
    setForm({ ...form, [key]: value });
  };
  const toggle = (collectionId) => set("collection_ids")(
    form.collection_ids.includes(collectionId)
      ? form.collection_ids.filter((c) => c !== collectionId)
      : [...form.collection_ids, collectionId],
  );
  const save = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      if (creating) {
        const created = await api.post("/personas", toBody(form));
        navigate(`/personas/${created.id}`, { replace: true });
      } else {
        await api.patch(`/personas/${saved.id}`, toBody(form));
        setDone(true);
        setTrial((n) => n + 1); // the try-it conversation starts again with what was saved
        onSaved();
      }
    } catch (err) {
      setError(err);
    }
  };
  const remove = async () => {
    setConfirm(false);
    try {
      await api.del(`/personas/${saved.id}`);
      navigate("/personas");
    } catch (err) {
      setError(err);
    }
  };
  return html`<section>
    <p><a href="/personas">← ${t("personas.title")}</a></p>
    <h1>${creating ? t("personas.new") : form.name}</h1>
    <div class="editor-layout">
      <form class="card persona-form" onSubmit=${save}>
        <${Field} label=${t("personas.name")} value=${form.name} onInput=${set("name")} required maxlength="120" />
        <${Field} label=${t("personas.description")} value=${form.description} onInput=${set("description")}
          maxlength="1000" hint=${t("personas.description_hint")} />
        <${Field} label=${t("personas.tone")} value=${form.tone} onInput=${set("tone")} maxlength="200"
          hint=${t("personas.tone_hint")} />
        <${Select} label=${t("personas.mode")} value=${form.teaching_mode} onChange=${set("teaching_mode")}
          options=${[
            { value: "direct", label: t("personas.mode_direct") },
            { value: "socratic", label: t("personas.mode_socratic") },
          ]} />
        <${Field} label=${t("personas.instructions")} type="textarea" rows="6" value=${form.instructions}
          onInput=${set("instructions")} maxlength="8000" hint=${t("personas.instructions_hint")} />
        <${Field} label=${t("personas.greeting")} type="textarea" rows="2" value=${form.greeting}
          onInput=${set("greeting")} maxlength="1000" />
        <fieldset>
          <legend>${t("personas.collections")}</legend>
          ${collections.length === 0 && html`<p class="muted">${t("personas.no_collections")}
            <a href="/collections">${t("nav.collections")}</a></p>`}
          ${collections.map(
            (c) => html`<label class="check">
              <input type="checkbox" checked=${form.collection_ids.includes(c.id)} onChange=${() => toggle(c.id)} />
              ${c.name} <span class="muted small">(${t("collections.documents", { n: c.document_count })})</span>
            </label>`,
          )}
        </fieldset>
        <${AvatarPicker} value=${form.avatar_id} onChange=${set("avatar_id")} />
        <details>
          <summary>${t("personas.model_settings")}</summary>
          <${Field} label=${t("personas.model")} value=${form.model} onInput=${set("model")} maxlength="200"
            hint=${t("personas.model_hint")} />
          <${Field} label=${t("personas.temperature")} type="number" min="0" max="2" step="0.1"
            value=${form.temperature} onInput=${set("temperature")} hint=${t("personas.temperature_hint")} />
          <${Field} label=${t("personas.max_tokens")} type="number" min="1" max="16384" step="1"
            value=${form.max_tokens} onInput=${set("max_tokens")} />
        </details>
        <${ErrorNotice} error=${error} />
        ${done && html`<${Notice} kind="success"><p>${t("personas.saved")}</p><//>`}
        <div class="actions">
          ${!creating && html`<button type="button" class="danger" onClick=${() => setConfirm(true)}>
            ${t("common.delete")}</button>`}
          <button class="primary" type="submit">${creating ? t("personas.create") : t("common.save")}</button>
        </div>
      </form>
      <div class="try-it">
        <h2>${t("personas.try_it")}</h2>
        ${creating
          ? html`<p class="muted">${t("personas.try_after_save")}</p>`
          : html`<${Conversation} key=${trial} personaId=${saved.id} persona=${saved} figure=${false} />`}
      </div>
    </div>
    <${Confirm} open=${confirm} title=${t("personas.delete_title", { name: form.name })}
      body=${t("personas.delete_body")} confirmLabel=${t("common.delete")} danger onCancel=${() => setConfirm(false)}
      onConfirm=${remove} />
  </section>`;
}

/** The tutor's 3D figure: none, or one of the organisation's avatars, previewed with its clips. */
function AvatarPicker({ value, onChange }) {
  const avatars = useLoad(() => api.get("/avatars?per_page=100"), []);
  // A fresh view of the chosen one: its signed link is short-lived.
  const chosen = useLoad(() => (value ? api.get(`/avatars/${value}`) : Promise.resolve(null)), [value]);
  const items = avatars.data ? avatars.data.items : [];
  const options = [
    { value: "", label: t("personas.no_avatar") },
    ...items.map((a) => ({ value: a.id, label: a.sample ? t("personas.avatar_sample", { name: a.name }) : a.name })),
  ];
  return html`<fieldset class="avatar-picker">
    <legend>${t("personas.avatar")}</legend>
    <${AvatarError} error=${avatars.error} />
    <${Select} label=${t("personas.avatar_choose")} value=${value} onChange=${onChange} options=${options} />
    <p class="muted small">${t("personas.avatar_hint")} <a href="/avatars">${t("personas.avatars_link")}</a></p>
    ${chosen.error && html`<${AvatarError} error=${chosen.error} />`}
    ${value && chosen.data && chosen.data.id === value && html`
      <${AvatarPreview} key=${value} avatar=${chosen.data} small />
      <p><a href=${`/avatars?avatar=${value}`}>${t("personas.edit_mapping", { name: chosen.data.name })}</a></p>`}
  </fieldset>`;
}
