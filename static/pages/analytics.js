// Analytics for teachers and admins: how their students use the tutors over a period (a class, or everyone they
// oversee): figures, activity per day, the tutors and documents used most, where the class is stuck, what the
// material does not cover, every student's activity, and the weekly report. The period lives in the address.
import { html, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { dateTime } from "../lib/format.js";
import { navigate } from "../lib/router.js";
import { BarChart, LineChart } from "../components/charts.js";
import { ErrorNotice, Field, Loading, Pagination, Select, useLoad } from "../components/ui.js";
import {
  DocumentBars, GroupsSection, NotCoveredList, StatTiles, duration, periodOf, useTranscripts, withQuery,
} from "./analytics-parts.js";
import { WeeklyReport } from "./analytics-report.js";

const PER_PAGE = 100;

export function Analytics({ query }) {
  const period = periodOf(query);
  const classes = useLoad(() => api.get("/classes?per_page=100"), []);
  const overview = useLoad(() => api.get(withQuery("/analytics/overview", period)),
    [period.from, period.to, period.class_id]);
  const transcripts = useTranscripts();
  const o = overview.data;
  // The inputs show the period the server used (its default when the address names none).
  const shown = { from: period.from || (o ? o.from : ""), to: period.to || (o ? o.to : ""), class_id: period.class_id };
  const setFilter = (key) => (value) => navigate(withQuery("/analytics", { ...shown, [key]: value }), { replace: true });
  const classOptions = [{ value: "", label: t("analytics.all_classes") }].concat(
    (classes.data ? classes.data.items : []).map((c) => ({ value: c.id, label: c.name })),
  );
  return html`<section class="analytics">
    <div class="section-head">
      <h1>${t("analytics.title")}</h1>
      <div class="actions">
        <a href="/alerts">${t("nav.alerts")}</a>
        <a href="/analytics/settings">${t("oversight.title")}</a>
      </div>
    </div>
    <p class="muted">${t("analytics.intro")}</p>
    <form class="filters" role="search" aria-label=${t("analytics.filters")} onSubmit=${(e) => e.preventDefault()}>
      <${Select} label=${t("analytics.class")} value=${period.class_id} onChange=${setFilter("class_id")}
        options=${classOptions} />
      <${Field} label=${t("analytics.from")} type="date" value=${shown.from} onInput=${setFilter("from")}
        max=${shown.to || undefined} />
      <${Field} label=${t("analytics.to")} type="date" value=${shown.to} onInput=${setFilter("to")}
        min=${shown.from || undefined} />
    </form>
    <${ErrorNotice} error=${overview.error || classes.error} />
    ${overview.loading && !o ? html`<${Loading} />` : null}
    ${o && html`<${Overview} o=${o} period=${{ ...period, from: shown.from, to: shown.to }}
      transcripts=${transcripts} />`}
    <${WeeklyReport} classId=${period.class_id} />
  </section>`;
}

function Overview({ o, period, transcripts }) {
  const totals = o.totals;
  const quiet = totals.messages === 0 && totals.active_students === 0;
  const students = useLoad(() => api.get(withQuery("/analytics/students", { ...period, per_page: PER_PAGE })),
    [period.from, period.to, period.class_id]);
  const names = Object.fromEntries((students.data ? students.data.items : []).map((s) => [s.id, s.name]));
  const tiles = [
    { key: "active_students", label: t("analytics.active_students"), value: totals.active_students },
    { key: "messages", label: t("analytics.messages"), value: totals.messages },
    { key: "sessions", label: t("analytics.sessions"), value: totals.sessions },
    { key: "median_session", label: t("analytics.median_session"), value: duration(totals.median_session_seconds) },
    { key: "not_covered", label: t("analytics.not_covered"), value: totals.questions_not_covered },
    { key: "flagged", label: t("analytics.flagged"), value: totals.flagged, href: "/alerts" },
  ];
  const detail = { from: period.from, to: period.to };
  return html`
    <${StatTiles} tiles=${tiles} label=${t("analytics.totals", { from: o.from, to: o.to })} />
    ${quiet
      ? html`<div class="card empty-state">
          <h2>${t("analytics.empty_title")}</h2>
          <p>${t("analytics.empty_body")}</p>
          <p><a href="/classes">${t("analytics.empty_classes")}</a></p>
        </div>`
      : html`<div class="chart-grid">
          <div class="card">
            <${LineChart} days=${o.days} caption=${t("analytics.per_day")} series=${[
              { key: "messages", label: t("analytics.messages") },
              { key: "active_students", label: t("analytics.active_students") },
            ]} />
          </div>
          <div class="card">
            <${BarChart} items=${o.top_personas} caption=${t("analytics.top_tutors")} label=${(p) => p.name}
              value=${(p) => p.messages}
              href=${(p) => withQuery(`/analytics/personas/${p.id}`, { ...detail, class_id: period.class_id })}
              text=${(p) => t("analytics.tutor_use", { messages: p.messages, students: p.students })}
              empty=${t("analytics.no_tutors")} />
          </div>
          <div class="card"><${DocumentBars} documents=${o.top_documents} /></div>
          <div class="card">
            <h2 class="card-title">${t("analytics.latest_not_covered")}</h2>
            <${NotCoveredList} items=${o.not_covered} transcripts=${transcripts} names=${names} />
          </div>
        </div>`}
    <${GroupsSection} kind="stuck" period=${period} />
    <${GroupsSection} kind="gaps" period=${period} />
    <h2>${t("analytics.students_title")}</h2>
    <${ErrorNotice} error=${students.error} />
    ${students.loading && !students.data ? html`<${Loading} />` : null}
    ${students.data && html`<${StudentsTable} key=${`${period.from}/${period.to}/${period.class_id}`} period=${period}
      first=${students.data} />`}`;
}

const SORTS = {
  name: (a, b) => a.name.localeCompare(b.name),
  messages: (a, b) => b.messages - a.messages,
  last_active: (a, b) => (b.last_active || "").localeCompare(a.last_active || ""),
};

/** Every student in scope; the columns with buttons sort the page shown. */
function StudentsTable({ period, first }) {
  const [page, setPage] = useState(1);
  const [sort, setSort] = useState("name");
  const later = useLoad(
    () => (page === 1
      ? Promise.resolve(first)
      : api.get(withQuery("/analytics/students", { ...period, page, per_page: PER_PAGE }))),
    [page, first],
  );
  const data = later.data || (page === 1 ? first : null);
  if (later.error) return html`<${ErrorNotice} error=${later.error} />`;
  if (!data) return html`<${Loading} />`;
  if (data.total === 0) return html`<p>${t("analytics.no_students")}</p>`;
  const rows = data.items.slice().sort(SORTS[sort]);
  const detail = { from: period.from, to: period.to };
  const order = (key) => (sort === key ? (key === "name" ? "ascending" : "descending") : undefined);
  const head = (key, label) => html`<th scope="col" aria-sort=${order(key)}>
    <button type="button" class="link sort" onClick=${() => setSort(key)}>${label}</button>
  </th>`;
  return html`<div class="table-wrap"><table class="students-table">
      <caption class="visually-hidden">${t("analytics.students_title")}</caption>
      <thead><tr>
        ${head("name", t("analytics.student"))}
        ${head("messages", t("analytics.messages"))}
        <th scope="col">${t("analytics.sessions")}</th>
        <th scope="col">${t("analytics.not_covered")}</th>
        <th scope="col">${t("analytics.days_active")}</th>
        ${head("last_active", t("analytics.last_active"))}
      </tr></thead>
      <tbody>
        ${rows.map((s) => html`<tr key=${s.id}>
          <td><a href=${withQuery(`/analytics/students/${s.id}`, detail)}>${s.name}</a></td>
          <td>${s.messages}</td><td>${s.sessions}</td><td>${s.not_covered}</td><td>${s.days_active}</td>
          <td>${s.last_active ? dateTime(s.last_active) : t("analytics.never")}</td>
        </tr>`)}
      </tbody>
    </table></div>
    <${Pagination} page=${page} perPage=${PER_PAGE} total=${data.total} onPage=${setPage} />`;
}
