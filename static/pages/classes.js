// Classes: the list (admins see every class, teachers the classes they teach), and the editor: name, description,
// who teaches it, who attends it and which tutors it uses. Pickers are checklists with a filter, so a class of
// thirty is made in one pass.
import { html, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { navigate } from "../lib/router.js";
import { Confirm, ErrorNotice, Field, Loading, Notice, useLoad } from "../components/ui.js";

export function Classes() {
  const classes = useLoad(() => api.get("/classes?per_page=100"), []);
  return html`<section>
    <div class="section-head">
      <h1>${t("classes.title")}</h1>
      <a class="button primary" href="/classes/new">${t("classes.new")}</a>
    </div>
    <p class="muted">${t("classes.intro")}</p>
    <${ErrorNotice} error=${classes.error} />
    ${classes.loading && !classes.data ? html`<${Loading} />` : null}
    ${classes.data && classes.data.items.length === 0 && html`<p>${t("classes.none")}</p>`}
    ${classes.data &&
    html`<ul class="cards">
      ${classes.data.items.map(
        (c) => html`<li class="card">
          <h2><a href=${`/classes/${c.id}`}>${c.name}</a></h2>
          ${c.description && html`<p>${c.description}</p>`}
          <p class="muted small">${t("classes.counts", { teachers: c.teachers.length, students: c.student_count,
            tutors: c.persona_ids.length })}</p>
        </li>`,
      )}
    </ul>`}
  </section>`;
}

export function ClassEditor({ id }) {
  const creating = id === "new";
  const current = useLoad(() => (creating ? Promise.resolve(null) : api.get(`/classes/${id}`)), [id]);
  const people = useLoad(() => api.get("/users?per_page=100"), []);
  const tutors = useLoad(() => api.get("/personas?per_page=100"), []);
  if (current.error) return html`<${ErrorNotice} error=${current.error} />`;
  if ((!creating && !current.data) || !people.data || !tutors.data) {
    return html`<${ErrorNotice} error=${people.error || tutors.error} /><${Loading} />`;
  }
  const c = current.data;
  const initial = {
    name: c ? c.name : "", description: c ? c.description : "",
    teacher_ids: c ? c.teachers.map((m) => m.id) : [], student_ids: c ? c.students.map((m) => m.id) : [],
    persona_ids: c ? c.persona_ids : [],
  };
  return html`<${Editor} key=${id} creating=${creating} saved=${c} initial=${initial}
    people=${people.data.items} tutors=${tutors.data.items} onSaved=${current.reload} />`;
}

/** A filterable list of checkboxes inside a fieldset. */
export function Checklist({ legend, items, chosen, onChange, empty }) {
  const [filter, setFilter] = useState("");
  const shown = items.filter((i) => i.label.toLowerCase().includes(filter.trim().toLowerCase()));
  const toggle = (value) => onChange(chosen.includes(value) ? chosen.filter((v) => v !== value) : [...chosen, value]);
  return html`<fieldset class="checklist">
    <legend>${legend} <span class="muted small">(${t("classes.chosen", { n: chosen.length })})</span></legend>
    ${items.length > 8 && html`<${Field} label=${t("classes.filter", { what: legend })} value=${filter}
      onInput=${setFilter} />`}
    ${items.length === 0 && html`<p class="muted">${empty}</p>`}
    ${shown.map(
      (i) => html`<label class="check" key=${i.value}>
        <input type="checkbox" checked=${chosen.includes(i.value)} onChange=${() => toggle(i.value)} />
        ${i.label} ${i.detail && html`<span class="muted small">${i.detail}</span>`}
      </label>`,
    )}
  </fieldset>`;
}

function Editor({ creating, saved, initial, people, tutors, onSaved }) {
  const [form, setForm] = useState(initial);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const set = (key) => (value) => {
    setDone(false);
    setForm({ ...form, [key]: value });
  };
  const person = (u) => ({ value: u.id, label: u.name, detail: u.email });
  const teachers = people.filter((u) => u.role !== "student" && u.active !== false).map(person);
  const students = people.filter((u) => u.role === "student" && u.active !== false).map(person);
  const save = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      if (creating) {
        const created = await api.post("/classes", form);
        navigate(`/classes/${created.id}`, { replace: true });
      } else {
        await api.patch(`/classes/${saved.id}`, form);
        setDone(true);
        onSaved();
      }
    } catch (err) {
      setError(err);
    }
  };
  const remove = async () => {
    setConfirm(false);
    try {
      await api.del(`/classes/${saved.id}`);
      navigate("/classes");
    } catch (err) {
      setError(err);
    }
  };
  return html`<section>
    <p><a href="/classes">← ${t("classes.title")}</a></p>
    <h1>${creating ? t("classes.new") : form.name}</h1>
    <form class="card class-form" onSubmit=${save}>
      <${Field} label=${t("classes.name")} value=${form.name} onInput=${set("name")} required maxlength="120" />
      <${Field} label=${t("classes.description")} value=${form.description} onInput=${set("description")}
        maxlength="2000" hint=${t("classes.description_hint")} />
      <${Checklist} legend=${t("classes.teachers")} items=${teachers} chosen=${form.teacher_ids}
        onChange=${set("teacher_ids")} empty=${t("classes.no_teachers")} />
      <${Checklist} legend=${t("classes.students")} items=${students} chosen=${form.student_ids}
        onChange=${set("student_ids")} empty=${t("classes.no_students")} />
      <${Checklist} legend=${t("classes.tutors")} items=${tutors.map((p) => ({ value: p.id, label: p.name }))}
        chosen=${form.persona_ids} onChange=${set("persona_ids")} empty=${t("classes.no_tutors")} />
      <${ErrorNotice} error=${error} />
      ${done && html`<${Notice} kind="success"><p>${t("classes.saved")}</p><//>`}
      <div class="actions">
        ${!creating && html`<button type="button" class="danger" onClick=${() => setConfirm(true)}>
          ${t("common.delete")}</button>`}
        <button class="primary" type="submit">${creating ? t("classes.create") : t("common.save")}</button>
      </div>
    </form>
    <${Confirm} open=${confirm} title=${t("classes.delete_title")} body=${t("classes.delete_body")}
      confirmLabel=${t("common.delete")} danger onConfirm=${remove} onCancel=${() => setConfirm(false)} />
  </section>`;
}
