// One student's progress and one tutor's use, over a period (from the analytics page's, kept in the address).
import { html } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { dateTime } from "../lib/format.js";
import { navigate } from "../lib/router.js";
import { BarChart, LineChart } from "../components/charts.js";
import { ErrorNotice, Field, Loading, useLoad } from "../components/ui.js";
import {
  DocumentBars, NotCoveredList, StatTiles, periodOf, useTranscripts, withQuery,
} from "./analytics-parts.js";

/** From and to for a detail page; `shown` is the period the server answered for. */
function PeriodFilter({ path, period, shown }) {
  const set = (key) => (value) => navigate(withQuery(path, { ...period, ...shown, [key]: value }), { replace: true });
  return html`<form class="filters" role="search" aria-label=${t("analytics.filters")}
    onSubmit=${(e) => e.preventDefault()}>
    <${Field} label=${t("analytics.from")} type="date" value=${period.from || shown.from} onInput=${set("from")} />
    <${Field} label=${t("analytics.to")} type="date" value=${period.to || shown.to} onInput=${set("to")} />
  </form>`;
}

function Back({ period }) {
  return html`<p><a href=${withQuery("/analytics", period)}>← ${t("analytics.title")}</a></p>`;
}

export function StudentAnalytics({ id, query }) {
  const period = periodOf(query);
  const range = { from: period.from, to: period.to };
  const report = useLoad(() => api.get(withQuery(`/analytics/students/${id}`, range)), [id, range.from, range.to]);
  const transcripts = useTranscripts();
  if (report.error) return html`<${Back} period=${period} /><${ErrorNotice} error=${report.error} />`;
  if (!report.data) return html`<${Loading} />`;
  const r = report.data;
  const tiles = [
    { key: "messages", label: t("analytics.messages"), value: r.totals.messages },
    { key: "sessions", label: t("analytics.sessions"), value: r.totals.sessions },
    { key: "days_active", label: t("analytics.days_active"), value: r.totals.days_active },
    { key: "streak", label: t("analytics.streak"), value: r.streak_days },
    { key: "not_covered", label: t("analytics.not_covered"), value: r.totals.not_covered },
    { key: "last_active", label: t("analytics.last_active"),
      value: r.last_active ? new Date(r.last_active).toLocaleDateString() : t("analytics.never") },
  ];
  return html`<section class="analytics">
    <${Back} period=${period} />
    <h1>${r.student.name}</h1>
    <p class="muted">${t("analytics.student_intro", { from: r.from, to: r.to })}</p>
    <${PeriodFilter} path=${`/analytics/students/${id}`} period=${period} shown=${{ from: r.from, to: r.to }} />
    <${StatTiles} tiles=${tiles} />
    <div class="chart-grid">
      <div class="card">
        <${LineChart} days=${r.days} caption=${t("analytics.per_day")}
          series=${[{ key: "messages", label: t("analytics.messages") }]} />
      </div>
      <div class="card"><${DocumentBars} documents=${r.documents} caption=${t("analytics.student_documents")} /></div>
      <div class="card">
        <${BarChart} items=${r.topics} caption=${t("analytics.topics")} label=${(x) => x.label}
          value=${(x) => x.questions} text=${(x) => t("analytics.group_questions", { n: x.questions })}
          empty=${t("analytics.no_topics")} />
      </div>
    </div>
    <h2>${t("analytics.student_sessions")}</h2>
    ${r.sessions.length === 0 && html`<p class="muted">${t("analytics.no_sessions")}</p>`}
    ${r.sessions.length > 0 && html`<div class="table-wrap"><table>
      <caption class="visually-hidden">${t("analytics.student_sessions")}</caption>
      <thead><tr>
        <th scope="col">${t("analytics.tutor")}</th><th scope="col">${t("analytics.started")}</th>
        <th scope="col">${t("analytics.last_active")}</th><th scope="col">${t("analytics.messages")}</th>
        ${transcripts && html`<th scope="col"><span class="visually-hidden">${t("analytics.transcript")}</span></th>`}
      </tr></thead>
      <tbody>
        ${r.sessions.map((s) => html`<tr key=${s.id}>
          <td><a href=${withQuery(`/analytics/personas/${s.persona_id}`, range)}>${s.persona_name}</a></td>
          <td>${dateTime(s.started_at)}</td><td>${dateTime(s.last_at)}</td><td>${s.messages}</td>
          ${transcripts && html`<td><a href=${`/sessions/${s.id}`}
            aria-label=${t("analytics.read_session", { tutor: s.persona_name, when: dateTime(s.started_at) })}>
            ${t("analytics.read_conversation")}</a></td>`}
        </tr>`)}
      </tbody>
    </table></div>`}
  </section>`;
}

export function PersonaAnalytics({ id, query }) {
  const period = periodOf(query);
  const report = useLoad(() => api.get(withQuery(`/analytics/personas/${id}`, period)),
    [id, period.from, period.to, period.class_id]);
  const transcripts = useTranscripts();
  if (report.error) return html`<${Back} period=${period} /><${ErrorNotice} error=${report.error} />`;
  if (!report.data) return html`<${Loading} />`;
  const r = report.data;
  const totals = r.totals;
  const tiles = [
    { key: "messages", label: t("analytics.messages"), value: totals.messages },
    { key: "sessions", label: t("analytics.sessions"), value: totals.sessions },
    { key: "students", label: t("analytics.students"), value: totals.students },
    { key: "answers", label: t("analytics.answers"), value: totals.answers },
    { key: "not_covered", label: t("analytics.not_covered"), value: totals.not_covered },
    { key: "latency", label: t("analytics.median_latency"),
      value: totals.median_latency_ms == null ? t("analytics.none") : t("analytics.seconds_decimal",
        { s: (totals.median_latency_ms / 1000).toFixed(1) }) },
    { key: "tokens", label: t("analytics.tokens"), value: totals.tokens.toLocaleString() },
  ];
  const answered = ["model", "extractive", "not_covered"].map((key) => ({ key, n: r.answered_by[key] || 0 }));
  return html`<section class="analytics">
    <${Back} period=${period} />
    <h1>${r.persona.name}</h1>
    <p class="muted">${t("analytics.persona_intro", { from: r.from, to: r.to })}</p>
    <${PeriodFilter} path=${`/analytics/personas/${id}`} period=${period} shown=${{ from: r.from, to: r.to }} />
    <${StatTiles} tiles=${tiles} />
    <div class="chart-grid">
      <div class="card">
        <${LineChart} days=${r.days} caption=${t("analytics.per_day")} series=${[
          { key: "messages", label: t("analytics.messages") },
          { key: "sessions", label: t("analytics.sessions") },
        ]} />
      </div>
      <div class="card">
        <${BarChart} items=${answered} caption=${t("analytics.answered_by")} label=${(a) => t(`analytics.by_${a.key}`)}
          value=${(a) => a.n} empty="" />
      </div>
      <div class="card"><${DocumentBars} documents=${r.top_documents} /></div>
      <div class="card">
        <h2 class="card-title">${t("analytics.latest_not_covered")}</h2>
        <${NotCoveredList} items=${r.not_covered} transcripts=${transcripts} />
      </div>
    </div>
  </section>`;
}
