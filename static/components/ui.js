// Small building blocks every page uses: labelled fields, error notices from API codes, progress bars, pagination,
// a confirmation dialog. Accessible by construction: every input has a label, errors are announced.
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { t } from "../lib/i18n.js";
import { errorMessage } from "../lib/errors.js";
import { useSession } from "../lib/session.js";

let nextId = 0;
const uid = (prefix) => `${prefix}-${(nextId += 1)}`;

export function Field({ label, hint, error, type = "text", value, onInput, required, autocomplete, ...rest }) {
  const [id] = useState(() => uid("field"));
  const describedBy = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(" ") || undefined;
  const input =
    type === "textarea"
      ? html`<textarea id=${id} value=${value} onInput=${(e) => onInput(e.target.value)} required=${required}
          aria-invalid=${error ? "true" : undefined} aria-describedby=${describedBy} ...${rest}></textarea>`
      : html`<input id=${id} type=${type} value=${value} onInput=${(e) => onInput(e.target.value)}
          required=${required} autocomplete=${autocomplete} aria-invalid=${error ? "true" : undefined}
          aria-describedby=${describedBy} ...${rest} />`;
  return html`<div class="field">
    <label for=${id}>${label}${required ? html` <span aria-hidden="true">*</span>` : ""}</label>
    ${input}
    ${hint && html`<p class="hint" id=${`${id}-hint`}>${hint}</p>`}
    ${error && html`<p class="field-error" id=${`${id}-error`}>${error}</p>`}
  </div>`;
}

export function Select({ label, value, onChange, options }) {
  const [id] = useState(() => uid("select"));
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} value=${value} onChange=${(e) => onChange(e.target.value)}>
      ${options.map((o) => html`<option value=${o.value} selected=${o.value === value}>${o.label}</option>`)}
    </select>
  </div>`;
}

/** The API's error, in the reader's words (the code's catalog entry), with its request id for support. */
export function ErrorNotice({ error }) {
  if (!error) return null;
  return html`<div class="notice error" role="alert">
    <p>${errorMessage(error)} <${PlanLink} error=${error} /></p>
    ${error.requestId && html`<p class="small">${t("errors.request_id", { id: error.requestId })}</p>`}
  </div>`;
}

/** Beside a plan's limit (`quota_exceeded`), for an admin: the way to the plan and billing page. */
export function PlanLink({ error }) {
  const session = useSession(); // none on the public pages (accepting an invitation)
  if (!error || error.code !== "quota_exceeded" || !session || session.me.role !== "admin") return null;
  return html`<a href="/billing">${t("errors.quota.see_plans")}</a>`;
}

export function Notice({ children, kind = "info" }) {
  return html`<div class=${`notice ${kind}`} role="status">${children}</div>`;
}

export function ProgressBar({ value, label, state = "active" }) {
  const percent = Math.max(0, Math.min(100, Math.round(value)));
  return html`<div class=${`progress ${state}`}>
    <div class="progress-label"><span>${label}</span><span>${percent}%</span></div>
    <div class="progress-track" role="progressbar" aria-label=${label} aria-valuemin="0" aria-valuemax="100"
      aria-valuenow=${percent}><div class="progress-fill" style=${{ width: `${percent}%` }}></div></div>
  </div>`;
}

export function Pagination({ page, perPage, total, onPage }) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  if (pages <= 1) return null;
  return html`<nav class="pagination" aria-label=${t("common.pages")}>
    <button type="button" disabled=${page <= 1} onClick=${() => onPage(page - 1)}>${t("common.previous")}</button>
    <span>${t("common.page_of", { page, pages })}</span>
    <button type="button" disabled=${page >= pages} onClick=${() => onPage(page + 1)}>${t("common.next")}</button>
  </nav>`;
}

/** A modal question with the native <dialog> (focus trapped and restored by the browser). */
export function Confirm({ open, title, body, confirmLabel, danger, onConfirm, onCancel }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return html`<dialog ref=${ref} aria-labelledby="confirm-title" onCancel=${onCancel}>
    <h2 id="confirm-title">${title}</h2>
    <p>${body}</p>
    <div class="actions">
      <button type="button" onClick=${onCancel}>${t("common.cancel")}</button>
      <button type="button" class=${danger ? "danger" : "primary"} onClick=${onConfirm}>${confirmLabel}</button>
    </div>
  </dialog>`;
}

/** Loads `load()` when `deps` change: `{data, error, loading, reload}`. */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load()
      .then((data) => live && setState({ data, error: null, loading: false }))
      .catch((error) => live && setState({ data: null, error, loading: false }));
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}

export function Loading() {
  return html`<p class="muted" role="status">${t("common.loading")}</p>`;
}
