// Staff read their students' conversations: every session of the organisation, filtered by student, tutor and
// date, and each one's transcript with its sources. Read-only: staff do not write in a student's session.
import { html, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { dateTime } from "../lib/format.js";
import { navigate } from "../lib/router.js";
import { MessageItem } from "../components/conversation.js";
import { CitationViewer } from "../components/citations.js";
import { ErrorNotice, Field, Loading, Pagination, Select, useLoad } from "../components/ui.js";

const PER_PAGE = 20;
const FILTERS = ["user_id", "persona_id", "from", "to"];

function withQuery(path, params) {
  const search = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ""));
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

/** A day's start or end as an instant, from a date field's `YYYY-MM-DD`. */
function dayBound(day, end) {
  if (!day) return undefined;
  const date = new Date(`${day}T00:00:00`);
  if (end) date.setDate(date.getDate() + 1);
  return date.toISOString();
}

export function StudentSessions({ query }) {
  const page = Number(query.page || 1);
  const [find, setFind] = useState("");
  const students = useLoad(() => api.get(withQuery("/users", { role: "student", per_page: 100, q: find })), [find]);
  const personas = useLoad(() => api.get("/personas?per_page=100"), []);
  const filters = Object.fromEntries(FILTERS.map((k) => [k, query[k] || ""]));
  const sessions = useLoad(
    () => api.get(withQuery("/sessions", {
      scope: "org", page, per_page: PER_PAGE, user_id: filters.user_id, persona_id: filters.persona_id,
      from: dayBound(filters.from, false), to: dayBound(filters.to, true),
    })),
    [page, ...FILTERS.map((k) => filters[k])],
  );
  const setFilter = (key) => (value) => navigate(withQuery("/students", { ...filters, [key]: value }));
  const studentOptions = [{ value: "", label: t("sessions.any_student") }].concat(
    (students.data ? students.data.items : []).map((u) => ({ value: u.id, label: `${u.name} (${u.email})` })),
  );
  const personaOptions = [{ value: "", label: t("sessions.any_tutor") }].concat(
    (personas.data ? personas.data.items : []).map((p) => ({ value: p.id, label: p.name })),
  );
  return html`<section>
    <h1>${t("sessions.title")}</h1>
    <p class="muted">${t("sessions.intro")}</p>
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <${Field} label=${t("sessions.find_student")} type="search" value=${find} onInput=${setFind} maxlength="200" />
      <${Select} label=${t("sessions.student")} value=${filters.user_id} onChange=${setFilter("user_id")}
        options=${studentOptions} />
      <${Select} label=${t("sessions.tutor")} value=${filters.persona_id} onChange=${setFilter("persona_id")}
        options=${personaOptions} />
      <${Field} label=${t("sessions.from")} type="date" value=${filters.from} onInput=${setFilter("from")} />
      <${Field} label=${t("sessions.to")} type="date" value=${filters.to} onInput=${setFilter("to")} />
    </form>
    <${ErrorNotice} error=${sessions.error} />
    ${sessions.loading && !sessions.data ? html`<${Loading} />` : null}
    ${sessions.data && sessions.data.items.length === 0 && html`<p>${t("sessions.none")}</p>`}
    ${sessions.data && sessions.data.items.length > 0 &&
    html`<div class="table-wrap"><table>
      <caption class="visually-hidden">${t("sessions.title")}</caption>
      <thead><tr>
        <th scope="col">${t("sessions.student")}</th><th scope="col">${t("sessions.tutor")}</th>
        <th scope="col">${t("sessions.topic")}</th><th scope="col">${t("sessions.messages")}</th>
        <th scope="col">${t("sessions.last_active")}</th>
      </tr></thead>
      <tbody>
        ${sessions.data.items.map(
          (s) => html`<tr key=${s.id}>
            <td>${s.user_name}</td><td>${s.persona_name}</td>
            <td><a href=${`/sessions/${s.id}`}>${s.title || t("history.untitled")}</a></td>
            <td>${s.message_count}</td><td>${dateTime(s.updated_at)}</td>
          </tr>`,
        )}
      </tbody>
    </table></div>`}
    ${sessions.data &&
    html`<${Pagination} page=${page} perPage=${PER_PAGE} total=${sessions.data.total}
      onPage=${(n) => navigate(withQuery("/students", { ...filters, page: n }))} />`}
  </section>`;
}

export function Transcript({ id, query }) {
  const page = Number(query.page || 1);
  const meta = useLoad(() => api.get(`/sessions/${id}`), [id]);
  const messages = useLoad(() => api.get(`/sessions/${id}/messages?page=${page}&per_page=100`), [id, page]);
  const [viewing, setViewing] = useState(null);
  if (meta.error) return html`<${ErrorNotice} error=${meta.error} />`;
  if (!meta.data) return html`<${Loading} />`;
  const s = meta.data;
  return html`<section>
    <p><a href="/students">← ${t("sessions.title")}</a></p>
    <h1>${s.title || t("history.untitled")}</h1>
    <p class="muted">${t("sessions.between", { student: s.user_name, tutor: s.persona_name })} ·
      ${dateTime(s.created_at)}</p>
    <p class="notice info">${t("sessions.read_only")}</p>
    <${ErrorNotice} error=${messages.error} />
    ${messages.data &&
    html`<ol class="messages transcript" aria-label=${t("chat.conversation")}>
      ${messages.data.items.map(
        (m) => html`<${MessageItem} key=${m.id} message=${m} onCite=${setViewing}
          speaker=${m.role === "user" ? s.user_name : s.persona_name} />`,
      )}
    </ol>`}
    ${messages.data &&
    html`<${Pagination} page=${page} perPage=${100} total=${messages.data.total}
      onPage=${(n) => navigate(`/sessions/${id}?page=${n}`)} />`}
    <${CitationViewer} citation=${viewing} onClose=${() => setViewing(null)} />
  </section>`;
}
