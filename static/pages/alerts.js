// Safety alerts: the flags on students' messages the signed-in teacher or admin was told of, newest first. Each
// names its severity (high in red), the student, an excerpt and a link to the conversation; read ones stay listed.
import { html, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { dateTime } from "../lib/format.js";
import { navigate } from "../lib/router.js";
import { alertsChanged, useUnreadAlerts } from "../lib/alerts.js";
import { ErrorNotice, Loading, Pagination, useLoad } from "../components/ui.js";
import { useTranscripts, withQuery } from "./analytics-parts.js";

const PER_PAGE = 20;

export function Alerts({ query }) {
  const page = Number(query.page || 1);
  const unread = query.unread === "true";
  const alerts = useLoad(() => api.get(withQuery("/alerts", { page, per_page: PER_PAGE, unread: unread ? "true" : "" })),
    [page, unread]);
  const transcripts = useTranscripts();
  const unreadCount = useUnreadAlerts();
  const [error, setError] = useState(null);
  const act = async (path) => {
    setError(null);
    try {
      await api.post(path);
      alerts.reload();
      alertsChanged();
    } catch (err) {
      setError(err);
    }
  };
  const items = alerts.data ? alerts.data.items : [];
  const anyUnread = unreadCount > 0 || items.some((a) => !a.read_at);
  return html`<section>
    <div class="section-head">
      <h1>${t("alerts.title")}</h1>
      <button type="button" disabled=${!anyUnread} onClick=${() => act("/alerts/read-all")}>
        ${t("alerts.read_all")}</button>
    </div>
    <p class="muted">${t("alerts.intro")}</p>
    <label class="check">
      <input type="checkbox" checked=${unread}
        onChange=${(e) => navigate(withQuery("/alerts", { unread: e.target.checked ? "true" : "" }))} />
      ${t("alerts.only_unread")}
    </label>
    <${ErrorNotice} error=${error || alerts.error} />
    ${alerts.loading && !alerts.data ? html`<${Loading} />` : null}
    ${alerts.data && items.length === 0 && html`<p>${unread ? t("alerts.none_unread") : t("alerts.none")}</p>`}
    ${items.length > 0 && html`<ul class="alert-list">
      ${items.map((a) => html`<${AlertItem} key=${a.id} alert=${a} transcripts=${transcripts}
        onRead=${() => act(`/alerts/${a.id}/read`)} />`)}
    </ul>`}
    ${alerts.data && html`<${Pagination} page=${page} perPage=${PER_PAGE} total=${alerts.data.total}
      onPage=${(n) => navigate(withQuery("/alerts", { unread: unread ? "true" : "", page: n }))} />`}
  </section>`;
}

function AlertItem({ alert, transcripts, onRead }) {
  const flag = alert.flag;
  const fresh = !alert.read_at;
  return html`<li class=${`card alert-item ${flag.severity} ${fresh ? "unread" : "read"}`}>
    <p class="alert-head">
      <span class=${`badge severity ${flag.severity}`}>${t(`alerts.severity.${flag.severity}`)}</span>
      ${flag.category && html`<strong>${flag.category}</strong>`}
      ${fresh && html`<span class="badge">${t("alerts.new")}</span>`}
      <span class="muted small">${dateTime(flag.created_at)} · ${t(`alerts.source.${flag.source}`)}</span>
    </p>
    <blockquote class="excerpt">${flag.excerpt}</blockquote>
    <p class="actions">
      <a href=${`/analytics/students/${flag.student.id}`}>${flag.student.name}</a>
      ${transcripts && html`<a href=${`/sessions/${flag.session_id}`}>${t("alerts.read_conversation")}</a>`}
      ${fresh && html`<button type="button" onClick=${onRead}
        aria-label=${t("alerts.mark_read_named", { student: flag.student.name, when: dateTime(flag.created_at) })}>
        ${t("alerts.mark_read")}</button>`}
    </p>
  </li>`;
}
