// The audit log (who did what, when, from where; filtered and paginated) and the system's state: the backends
// the server runs on, whether dense retrieval is on, and the organisation's plan.
import { html } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { dateTime } from "../lib/format.js";
import { navigate } from "../lib/router.js";
import { useSession } from "../lib/session.js";
import { ErrorNotice, Field, Loading, Notice, Pagination, Select, useLoad } from "../components/ui.js";

const PER_PAGE = 25;
export const AUDIT_ACTIONS = [
  "login.succeeded", "login.failed", "token.reuse_detected", "org.registered", "invitation.created",
  "invitation.accepted", "invitation.revoked", "user.role_changed", "user.deactivated", "user.reactivated",
  "user.deleted", "api_key.created", "api_key.revoked",
];

function withQuery(path, params) {
  const search = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ""));
  return search.toString() ? `${path}?${search}` : path;
}

function dayBound(day, end) {
  if (!day) return undefined;
  const date = new Date(`${day}T00:00:00`);
  if (end) date.setDate(date.getDate() + 1);
  return date.toISOString();
}

function details(entry) {
  const pairs = Object.entries(entry.details || {});
  return pairs.map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ");
}

export function Audit({ query }) {
  const page = Number(query.page || 1);
  const filters = { action: query.action || "", from: query.from || "", to: query.to || "" };
  const entries = useLoad(
    () => api.get(withQuery("/audit", {
      page, per_page: PER_PAGE, action: filters.action,
      from: dayBound(filters.from, false), to: dayBound(filters.to, true),
    })),
    [page, filters.action, filters.from, filters.to],
  );
  const setFilter = (key) => (value) => navigate(withQuery("/admin/audit", { ...filters, [key]: value }));
  return html`<section>
    <h1>${t("audit.title")}</h1>
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <${Select} label=${t("audit.action")} value=${filters.action} onChange=${setFilter("action")}
        options=${[{ value: "", label: t("audit.any_action") }, ...AUDIT_ACTIONS.map((a) => ({ value: a, label: a }))]} />
      <${Field} label=${t("sessions.from")} type="date" value=${filters.from} onInput=${setFilter("from")} />
      <${Field} label=${t("sessions.to")} type="date" value=${filters.to} onInput=${setFilter("to")} />
    </form>
    <${ErrorNotice} error=${entries.error} />
    ${entries.loading && !entries.data ? html`<${Loading} />` : null}
    ${entries.data && entries.data.items.length === 0 && html`<p>${t("audit.none")}</p>`}
    ${entries.data && entries.data.items.length > 0 &&
    html`<div class="table-wrap"><table class="audit">
      <caption class="visually-hidden">${t("audit.title")}</caption>
      <thead><tr><th scope="col">${t("audit.when")}</th><th scope="col">${t("audit.who")}</th>
        <th scope="col">${t("audit.action")}</th><th scope="col">${t("audit.target")}</th>
        <th scope="col">${t("audit.ip")}</th><th scope="col">${t("audit.details")}</th></tr></thead>
      <tbody>
        ${entries.data.items.map(
          (e) => html`<tr key=${e.id}><td>${dateTime(e.created_at)}</td>
            <td>${e.actor_name || (e.actor_id ? shortId(e.actor_id) : t("audit.nobody"))}</td>
            <td><code>${e.action}</code></td>
            <td>${e.target_type ? `${e.target_type} ${shortId(e.target_id || "")}` : ""}</td>
            <td>${e.ip || ""}</td><td class="small">${details(e)}</td></tr>`,
        )}
      </tbody>
    </table></div>`}
    ${entries.data && html`<${Pagination} page=${page} perPage=${PER_PAGE} total=${entries.data.total}
      onPage=${(n) => navigate(withQuery("/admin/audit", { ...filters, page: n }))} />`}
  </section>`;
}

/** Ids are UUIDv7, whose first digits are a timestamp shared by everything made that minute: show the end. */
function shortId(id) {
  return id.slice(-8);
}

export function System() {
  const { me } = useSession();
  const ready = useLoad(() => fetch("/readyz").then((r) => r.json()), []);
  const checks = ready.data ? Object.entries(ready.data.checks) : [];
  const embeddings = ready.data && ready.data.checks.embeddings;
  return html`<section>
    <h1>${t("system.title")}</h1>
    <section class="card">
      <h2>${t("system.plan")}</h2>
      <p>${t("system.plan_is", { plan: me.org.plan })} <a href="/billing">${t("system.plan_link")}</a></p>
    </section>
    ${ready.loading && !ready.data ? html`<${Loading} />` : null}
    <${ErrorNotice} error=${ready.error && { code: "network" }} />
    ${embeddings && embeddings.warning &&
    html`<${Notice} kind="warning"><p><strong>${t("system.bm25_only")}</strong></p><p>${embeddings.warning}</p><//>`}
    ${embeddings && !embeddings.warning && html`<${Notice} kind="success"><p>${t("system.dense_on")}</p><//>`}
    ${checks.length > 0 &&
    html`<div class="table-wrap"><table class="system">
      <caption>${t("system.backends")}</caption>
      <thead><tr><th scope="col">${t("system.part")}</th><th scope="col">${t("system.backend")}</th>
        <th scope="col">${t("system.state")}</th><th scope="col">${t("system.latency")}</th></tr></thead>
      <tbody>
        ${checks.map(
          ([name, c]) => html`<tr key=${name}><td>${t(`system.parts.${name}`)}</td><td>${c.backend}</td>
            <td><span class=${`badge ${c.ok ? (c.warning ? "warning" : "ready") : "failed"}`}>
              ${c.ok ? (c.warning ? t("system.degraded") : t("system.ok")) : t("system.down")}</span>
              ${c.error && html` <span class="small">${c.error}</span>`}
              ${c.warning && name !== "embeddings" && html` <span class="small">${c.warning}</span>`}</td>
            <td>${c.latency_ms.toFixed(1)} ms</td></tr>`,
        )}
      </tbody>
    </table></div>`}
  </section>`;
}
