// The admin area: people (search, roles, deactivate, delete), invitations, API keys, the audit log, and the
// system's state (which backends answer, whether dense retrieval is on, the plan).
import { html, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { dateTime } from "../lib/format.js";
import { navigate } from "../lib/router.js";
import { atLeast, useSession } from "../lib/session.js";
import { Confirm, ErrorNotice, Field, Loading, Notice, Pagination, Select, useLoad } from "../components/ui.js";

const PER_PAGE = 20;
const ROLES = ["student", "teacher", "admin"];

function withQuery(path, params) {
  const search = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ""));
  return search.toString() ? `${path}?${search}` : path;
}

/** Copies `text`, falling back to selecting it where the clipboard is not available (plain HTTP). */
function CopyField({ label, value }) {
  const [copied, setCopied] = useState(false);
  const copy = async (event) => {
    const input = event.target.closest(".copy").querySelector("input");
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      input.select();
    }
  };
  return html`<div class="copy">
    <${Field} label=${label} value=${value} onInput=${() => {}} readonly />
    <button type="button" onClick=${copy}>${copied ? t("common.copied") : t("common.copy")}</button>
  </div>`;
}

export function Users({ query }) {
  const { me } = useSession();
  const page = Number(query.page || 1);
  const filters = { q: query.q || "", role: query.role || "" };
  const users = useLoad(() => api.get(withQuery("/users", { ...filters, page, per_page: PER_PAGE })),
    [page, filters.q, filters.role]);
  const [error, setError] = useState(null);
  const [doomed, setDoomed] = useState(null);
  const setFilter = (key) => (value) => navigate(withQuery("/admin/users", { ...filters, [key]: value }));
  const change = async (user, body) => {
    setError(null);
    try {
      await api.patch(`/users/${user.id}`, body);
      users.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async () => {
    const user = doomed;
    setDoomed(null);
    setError(null);
    try {
      await api.del(`/users/${user.id}`);
      users.reload();
    } catch (err) {
      setError(err);
    }
  };
  return html`<section>
    <h1>${t("users.title")}</h1>
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <${Field} label=${t("users.search")} type="search" value=${filters.q} onInput=${setFilter("q")} maxlength="200" />
      <${Select} label=${t("users.role")} value=${filters.role} onChange=${setFilter("role")}
        options=${[{ value: "", label: t("users.any_role") }, ...ROLES.map((r) => ({ value: r, label: t(`roles.${r}`) }))]} />
    </form>
    <${ErrorNotice} error=${error || users.error} />
    ${users.loading && !users.data ? html`<${Loading} />` : null}
    ${users.data && users.data.items.length === 0 && html`<p>${t("users.none")}</p>`}
    ${users.data && users.data.items.length > 0 &&
    html`<div class="table-wrap"><table>
      <caption class="visually-hidden">${t("users.title")}</caption>
      <thead><tr><th scope="col">${t("users.name")}</th><th scope="col">${t("users.email")}</th>
        <th scope="col">${t("users.role")}</th><th scope="col">${t("users.state")}</th>
        <th scope="col">${t("users.last_sign_in")}</th>
        <th scope="col"><span class="visually-hidden">${t("common.actions")}</span></th></tr></thead>
      <tbody>
        ${users.data.items.map((u) => {
          const self = me.user && me.user.id === u.id;
          return html`<tr key=${u.id}>
            <td>${u.name}</td><td>${u.email}</td>
            <td><label class="visually-hidden" for=${`role-${u.id}`}>${t("users.role_of", { name: u.name })}</label>
              <select id=${`role-${u.id}`} disabled=${self} onChange=${(e) => change(u, { role: e.target.value })}>
                ${ROLES.map((r) => html`<option value=${r} selected=${r === u.role}>${t(`roles.${r}`)}</option>`)}
              </select></td>
            <td>${u.active ? t("users.active") : t("users.deactivated")}</td>
            <td>${u.last_login_at ? dateTime(u.last_login_at) : t("users.never")}</td>
            <td class="actions">
              <button type="button" disabled=${self} onClick=${() => change(u, { active: !u.active })}
                aria-label=${t(u.active ? "users.deactivate_named" : "users.reactivate_named", { name: u.name })}>
                ${u.active ? t("users.deactivate") : t("users.reactivate")}</button>
              <button type="button" class="danger" disabled=${self} onClick=${() => setDoomed(u)}
                aria-label=${t("users.delete_named", { name: u.name })}>${t("common.delete")}</button>
            </td>
          </tr>`;
        })}
      </tbody>
    </table></div>`}
    ${users.data && html`<${Pagination} page=${page} perPage=${PER_PAGE} total=${users.data.total}
      onPage=${(n) => navigate(withQuery("/admin/users", { ...filters, page: n }))} />`}
    <${Confirm} open=${Boolean(doomed)} title=${doomed && t("users.delete_title", { name: doomed.name })}
      body=${t("users.delete_policy")} confirmLabel=${t("users.delete_confirm")} danger
      onCancel=${() => setDoomed(null)} onConfirm=${remove} />
  </section>`;
}

export function Invitations({ query }) {
  const { me } = useSession();
  const page = Number(query.page || 1);
  const invitations = useLoad(() => api.get(`/invitations?page=${page}&per_page=${PER_PAGE}`), [page]);
  const roles = atLeast(me.role, "admin") ? ["student", "teacher"] : ["student"];
  const [form, setForm] = useState({ email: "", role: "student", class_id: "" });
  // The classes the inviter may name (their own; an admin's: all).
  const classes = useLoad(() => api.get("/classes?per_page=100"), []);
  const classOptions = classes.data ? classes.data.items.map((c) => ({ value: c.id, label: c.name })) : [];
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);
  const invite = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      setCreated(await api.post("/invitations", { ...form, class_id: form.class_id || null }));
      setForm({ email: "", role: form.role, class_id: form.class_id });
      invitations.reload();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (id) => {
    setError(null);
    try {
      await api.del(`/invitations/${id}`);
      invitations.reload();
    } catch (err) {
      setError(err);
    }
  };
  return html`<section>
    <h1>${t("invitations.title")}</h1>
    <form class="card" onSubmit=${invite}>
      <h2>${t("invitations.new")}</h2>
      <${Field} label=${t("auth.email")} type="email" value=${form.email} required maxlength="320"
        onInput=${(email) => setForm({ ...form, email })} />
      <${Select} label=${t("users.role")} value=${form.role} onChange=${(role) => setForm({ ...form, role })}
        options=${roles.map((r) => ({ value: r, label: t(`roles.${r}`) }))} />
      ${classOptions.length > 0 && html`<${Select} label=${t("invitations.class")} value=${form.class_id}
        onChange=${(classId) => setForm({ ...form, class_id: classId })}
        options=${[{ value: "", label: t("invitations.no_class") }, ...classOptions]} />`}
      <${ErrorNotice} error=${error} />
      <button class="primary" type="submit">${t("invitations.create")}</button>
    </form>
    ${created &&
    html`<${Notice} kind="success">
      <p>${t("invitations.created", { email: created.email })}</p>
      <${CopyField} label=${t("invitations.link")} value=${`${location.origin}/invite/${created.token}`} />
      <p class="small">${t("invitations.link_once", { date: dateTime(created.expires_at) })}</p>
    <//>`}
    <h2>${t("invitations.pending")}</h2>
    <${ErrorNotice} error=${invitations.error} />
    ${invitations.data && invitations.data.items.length === 0 && html`<p>${t("invitations.none")}</p>`}
    ${invitations.data && invitations.data.items.length > 0 &&
    html`<div class="table-wrap"><table>
      <caption class="visually-hidden">${t("invitations.pending")}</caption>
      <thead><tr><th scope="col">${t("auth.email")}</th><th scope="col">${t("users.role")}</th>
        <th scope="col">${t("invitations.expires")}</th>
        <th scope="col"><span class="visually-hidden">${t("common.actions")}</span></th></tr></thead>
      <tbody>
        ${invitations.data.items.map(
          (i) => html`<tr key=${i.id}><td>${i.email}</td><td>${t(`roles.${i.role}`)}</td>
            <td>${i.expired ? t("invitations.expired") : dateTime(i.expires_at)}</td>
            <td class="actions"><button type="button" class="danger" onClick=${() => revoke(i.id)}
              aria-label=${t("invitations.revoke_named", { email: i.email })}>${t("invitations.revoke")}</button></td>
          </tr>`,
        )}
      </tbody>
    </table></div>`}
    ${invitations.data && html`<${Pagination} page=${page} perPage=${PER_PAGE} total=${invitations.data.total}
      onPage=${(n) => navigate(`/admin/invitations?page=${n}`)} />`}
  </section>`;
}

export function ApiKeys() {
  const keys = useLoad(() => api.get("/api-keys"), []);
  const [form, setForm] = useState({ name: "", scope: "read" });
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);
  const [doomed, setDoomed] = useState(null);
  const create = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      setCreated(await api.post("/api-keys", form));
      setForm({ name: "", scope: form.scope });
      keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async () => {
    const key = doomed;
    setDoomed(null);
    try {
      await api.del(`/api-keys/${key.id}`);
      keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  return html`<section>
    <h1>${t("keys.title")}</h1>
    <p class="muted">${t("keys.intro")}</p>
    <form class="card" onSubmit=${create}>
      <h2>${t("keys.new")}</h2>
      <${Field} label=${t("keys.name")} value=${form.name} required maxlength="200"
        onInput=${(name) => setForm({ ...form, name })} />
      <${Select} label=${t("keys.scope")} value=${form.scope} onChange=${(scope) => setForm({ ...form, scope })}
        options=${[{ value: "read", label: t("keys.read") }, { value: "write", label: t("keys.write") }]} />
      <${ErrorNotice} error=${error} />
      <button class="primary" type="submit">${t("keys.create")}</button>
    </form>
    ${created && html`<${Notice} kind="success">
      <p>${t("keys.created", { name: created.key.name })}</p>
      <${CopyField} label=${t("keys.secret")} value=${created.secret} />
      <p class="small">${t("keys.shown_once")}</p>
    <//>`}
    <${ErrorNotice} error=${keys.error} />
    ${keys.data && keys.data.length === 0 && html`<p>${t("keys.none")}</p>`}
    ${keys.data && keys.data.length > 0 &&
    html`<div class="table-wrap"><table>
      <caption class="visually-hidden">${t("keys.title")}</caption>
      <thead><tr><th scope="col">${t("keys.name")}</th><th scope="col">${t("keys.scope")}</th>
        <th scope="col">${t("keys.prefix")}</th><th scope="col">${t("keys.last_used")}</th>
        <th scope="col"><span class="visually-hidden">${t("common.actions")}</span></th></tr></thead>
      <tbody>
        ${keys.data.map(
          (k) => html`<tr key=${k.id}><td>${k.name}</td><td>${t(`keys.${k.scope}`)}</td><td><code>${k.prefix}…</code></td>
            <td>${k.last_used_at ? dateTime(k.last_used_at) : t("users.never")}</td>
            <td class="actions"><button type="button" class="danger" onClick=${() => setDoomed(k)}
              aria-label=${t("keys.revoke_named", { name: k.name })}>${t("keys.revoke")}</button></td></tr>`,
        )}
      </tbody>
    </table></div>`}
    <${Confirm} open=${Boolean(doomed)} title=${doomed && t("keys.revoke_title", { name: doomed.name })}
      body=${t("keys.revoke_body")} confirmLabel=${t("keys.revoke")} danger onCancel=${() => setDoomed(null)}
      onConfirm=${revoke} />
  </section>`;
}

export { Audit, System } from "./system.js";
