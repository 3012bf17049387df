// The organisation's oversight settings: its time zone (what a day and a week are in analytics and reports),
// whether teachers may read their students' conversations, the admins told of high-severity flags, and the safety
// list that flags students' messages. Admins change them; teachers see them, read-only.
import { html, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { errorMessage } from "../lib/errors.js";
import { atLeast, useSession } from "../lib/session.js";
import { ErrorNotice, Field, Loading, Notice, useLoad } from "../components/ui.js";
import { Checklist } from "./classes.js";

const MAX_TERMS = 200;
const KINDS = ["word", "regex"];
const SEVERITIES = ["low", "medium", "high"];
// Offered first; the browser's own list of zones follows where it has one.
const COMMON_ZONES = [
  "UTC", "Africa/Kigali", "Africa/Nairobi", "Africa/Kampala", "Africa/Dar_es_Salaam", "Africa/Lagos",
  "Africa/Johannesburg", "Africa/Cairo", "Africa/Accra", "Africa/Addis_Ababa", "Europe/London", "Europe/Paris",
  "Europe/Berlin", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
  "America/Sao_Paulo", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney",
];

function zones() {
  const all = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set([...COMMON_ZONES, ...all])];
}

export function OversightSettings() {
  const { me } = useSession();
  const admin = atLeast(me.role, "admin");
  const settings = useLoad(() => api.get("/analytics/settings"), []);
  const admins = useLoad(() => api.get("/users?role=admin&per_page=100"), []);
  return html`<section>
    <p><a href="/analytics">← ${t("analytics.title")}</a></p>
    <h1>${t("oversight.title")}</h1>
    <p class="muted">${t("oversight.intro")}</p>
    ${!admin && html`<${Notice}><p>${t("oversight.read_only")}</p><//>`}
    <${ErrorNotice} error=${settings.error} />
    ${!settings.data && !settings.error && html`<${Loading} />`}
    ${settings.data && html`<${SettingsForm} initial=${settings.data} editable=${admin}
      admins=${admins.data ? admins.data.items : null} adminsError=${admin ? admins.error : null} />`}
  </section>`;
}

/** The server's refusal, with its own words where they name the value to fix (which term, which zone). */
function SettingsError({ error }) {
  if (!error) return null;
  const own = t(`oversight.errors.${error.code}`);
  const text = own === `oversight.errors.${error.code}` ? errorMessage(error) : own;
  const detailed = ["invalid_safety_term", "invalid_time_zone"].includes(error.code) && error.message;
  return html`<div class="notice error" role="alert">
    <p>${text}</p>
    ${detailed && html`<p class="small">${t("oversight.detail", { detail: error.message })}</p>`}
    ${error.requestId && html`<p class="small">${t("errors.request_id", { id: error.requestId })}</p>`}
  </div>`;
}

function SettingsForm({ initial, editable, admins, adminsError }) {
  const [form, setForm] = useState(initial);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  const set = (key) => (value) => {
    setSaved(false);
    setForm((f) => ({ ...f, [key]: value }));
  };
  const save = async (event) => {
    event.preventDefault();
    setError(null);
    setSaved(false);
    const terms = form.safety_terms.filter((term) => term.pattern.trim() !== "");
    try {
      setForm(await api.put("/analytics/settings", { ...form, safety_terms: terms }));
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };
  const adminItems = (admins || []).filter((u) => u.active !== false)
    .map((u) => ({ value: u.id, label: u.name, detail: u.email }));
  return html`<form class="card oversight-form" onSubmit=${save}>
    <fieldset class="plain" disabled=${!editable}>
      <${Field} label=${t("oversight.time_zone")} value=${form.time_zone} onInput=${set("time_zone")} required
        list="time-zones" maxlength="64" autocomplete="off" hint=${t("oversight.time_zone_hint")} />
      <datalist id="time-zones">${zones().map((z) => html`<option key=${z} value=${z}></option>`)}</datalist>
      <label class="check">
        <input type="checkbox" checked=${form.teachers_see_transcripts} aria-describedby="transcripts-hint"
          onChange=${(e) => set("teachers_see_transcripts")(e.target.checked)} />
        ${t("oversight.transcripts")}
      </label>
      <p class="hint" id="transcripts-hint">${t("oversight.transcripts_hint")}</p>
      <h2>${t("oversight.safety_admins")}</h2>
      <p class="hint">${t("oversight.safety_admins_hint")}</p>
      <${ErrorNotice} error=${adminsError} />
      ${admins
        ? html`<${Checklist} legend=${t("oversight.admins_legend")} items=${adminItems} chosen=${form.safety_admin_ids}
            onChange=${set("safety_admin_ids")} empty=${t("oversight.no_admins")} />`
        : html`<p class="muted">${t("oversight.admins_chosen", { n: form.safety_admin_ids.length })}</p>`}
      <${TermsEditor} terms=${form.safety_terms} onChange=${set("safety_terms")} editable=${editable} />
    </fieldset>
    <${SettingsError} error=${error} />
    ${saved && html`<${Notice} kind="success"><p>${t("oversight.saved")}</p><//>`}
    ${editable && html`<div class="actions"><button class="primary" type="submit">${t("common.save")}</button></div>`}
  </form>`;
}

/** The safety list: one row per term (pattern, kind, severity, category), added and removed in place. */
function TermsEditor({ terms, onChange, editable }) {
  const update = (i, key) => (event) =>
    onChange(terms.map((term, j) => (j === i ? { ...term, [key]: event.target.value } : term)));
  const remove = (i) => onChange(terms.filter((_, j) => j !== i));
  const add = () => {
    onChange([...terms, { pattern: "", kind: "word", severity: "medium", category: "" }]);
    // The new row's pattern field takes the focus once drawn.
    requestAnimationFrame(() => {
      const field = document.getElementById(`term-pattern-${terms.length}`);
      if (field) field.focus();
    });
  };
  const select = (i, key, values, label) => html`<select aria-label=${label} value=${terms[i][key]}
    onChange=${update(i, key)}>
    ${values.map((v) => html`<option value=${v} selected=${terms[i][key] === v}>${t(`oversight.${key}_${v}`)}</option>`)}
  </select>`;
  return html`<h2>${t("oversight.terms")}</h2>
    <p class="hint">${t("oversight.terms_hint", { max: MAX_TERMS })}</p>
    ${terms.length === 0 && html`<p class="muted">${t("oversight.no_terms")}</p>`}
    ${terms.length > 0 && html`<div class="table-wrap"><table class="terms">
      <caption class="visually-hidden">${t("oversight.terms")}</caption>
      <thead><tr>
        <th scope="col">${t("oversight.pattern")}</th><th scope="col">${t("oversight.kind")}</th>
        <th scope="col">${t("oversight.severity")}</th><th scope="col">${t("oversight.category")}</th>
        ${editable && html`<th scope="col"><span class="visually-hidden">${t("common.actions")}</span></th>`}
      </tr></thead>
      <tbody>
        ${terms.map((term, i) => {
          const n = i + 1;
          return html`<tr key=${i}>
            <td><input id=${`term-pattern-${i}`} value=${term.pattern} onInput=${update(i, "pattern")} maxlength="200"
              aria-label=${t("oversight.pattern_n", { n })} /></td>
            <td>${select(i, "kind", KINDS, t("oversight.kind_n", { n }))}</td>
            <td>${select(i, "severity", SEVERITIES, t("oversight.severity_n", { n }))}</td>
            <td><input value=${term.category} onInput=${update(i, "category")} maxlength="64"
              aria-label=${t("oversight.category_n", { n })} /></td>
            ${editable && html`<td><button type="button" class="danger" onClick=${() => remove(i)}
              aria-label=${t("oversight.remove_n", { n, pattern: term.pattern })}>${t("oversight.remove")}</button></td>`}
          </tr>`;
        })}
      </tbody>
    </table></div>`}
    ${editable && html`<p><button type="button" onClick=${add} disabled=${terms.length >= MAX_TERMS}>
      ${t("oversight.add_term")}</button>
      <span class="muted small">${t("oversight.count", { n: terms.length, max: MAX_TERMS })}</span></p>`}`;
}
