// Pieces the analytics pages share: the period in the address, stat tiles, question groups ("where the class is
// stuck", "gaps"), the questions the material did not cover, the most-cited documents, and whether staff may open
// a transcript (the org's oversight settings may keep teachers to aggregates).
import { html, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { dateTime } from "../lib/format.js";
import { atLeast, useSession } from "../lib/session.js";
import { BarChart } from "../components/charts.js";
import { ErrorNotice, Loading, useLoad } from "../components/ui.js";

export function withQuery(path, params) {
  const search = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ""));
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

/** The period (and class) a page shows, from its address: empty values leave the server's defaults. */
export function periodOf(query) {
  return { from: query.from || "", to: query.to || "", class_id: query.class_id || "" };
}

/** "5 min 12 s", "40 s"; a dash when unknown. */
export function duration(seconds) {
  if (seconds == null) return t("analytics.none");
  const whole = Math.round(seconds);
  if (whole < 60) return t("analytics.seconds", { s: whole });
  const m = Math.floor(whole / 60);
  return whole % 60 ? t("analytics.minutes_seconds", { m, s: whole % 60 }) : t("analytics.minutes", { m });
}

/** Figures in a row: `[{key, label, value, href?}]`. A description list, so each number is read with its name. */
export function StatTiles({ tiles, label }) {
  return html`${label && html`<p class="muted small">${label}</p>`}<dl class="stat-tiles">
    ${tiles.map(
      (tile) => html`<div class=${typeof tile.value === "number" ? "tile" : "tile words"} key=${tile.key}
        data-stat=${tile.key}>
        <dt>${tile.href ? html`<a href=${tile.href}>${tile.label}</a>` : tile.label}</dt>
        <dd>${tile.value}</dd>
      </div>`,
    )}
  </dl>`;
}

/** Whether the caller may open students' transcripts: admins always; teachers unless the org keeps them out. */
export function useTranscripts() {
  const { me } = useSession();
  const admin = atLeast(me.role, "admin");
  const settings = useLoad(() => (admin ? Promise.resolve(null) : api.get("/analytics/settings")), [admin]);
  return admin || Boolean(settings.data && settings.data.teachers_see_transcripts);
}

function documentName(d) {
  return d.name || t("analytics.deleted_document");
}

/** The documents answers cited most, as bars; each opens in the viewer (unless deleted since). */
export function DocumentBars({ documents, caption = t("analytics.top_documents") }) {
  return html`<${BarChart} items=${documents} caption=${caption} label=${documentName} value=${(d) => d.citations}
    text=${(d) => t("analytics.citations", { n: d.citations })} href=${(d) => (d.name ? `/documents/${d.id}` : null)}
    empty=${t("analytics.no_documents")} />`;
}

/**
 * The latest questions no material covered: each with when it was asked and, for whoever may read transcripts,
 * a link to its conversation. `names` maps student ids to names where the page knows them.
 */
export function NotCoveredList({ items, transcripts, names = {} }) {
  if (items.length === 0) return html`<p class="muted">${t("analytics.all_covered")}</p>`;
  return html`<ul class="question-list">
    ${items.map(
      (q, i) => html`<li key=${i}>
        <q>${q.question}</q>
        <span class="muted small">
          ${names[q.student_id] &&
          html`${" "}<a href=${`/analytics/students/${q.student_id}`}>${names[q.student_id]}</a> ·`}
          ${" "}${dateTime(q.asked_at)}
          ${transcripts && html` · <a href=${`/sessions/${q.session_id}`}>${t("analytics.read_conversation")}</a>`}
        </span>
      </li>`,
    )}
  </ul>`;
}

/** One group of questions that mean the same: its size, who asked, how it was answered, examples, sources. */
function GroupCard({ group }) {
  const examples = group.examples.filter((e) => e !== group.label);
  return html`<li class="card group-card">
    <h3><q>${group.label}</q></h3>
    <p class="group-counts">
      <span>${t("analytics.group_questions", { n: group.questions })}</span>
      <span>${t("analytics.group_students", { n: group.students })}</span>
      <span class="badge ready">${t("analytics.group_answered", { n: group.answered })}</span>
      ${group.not_covered > 0 &&
      html`<span class="badge failed">${t("analytics.group_not_covered", { n: group.not_covered })}</span>`}
    </p>
    ${examples.length > 0 && html`<p class="small muted">${t("analytics.also_asked")}</p>
      <ul class="examples small">${examples.map((e, i) => html`<li key=${i}>${e}</li>`)}</ul>`}
    ${group.documents.length > 0 && html`<p class="small">${t("analytics.group_cited")}${" "}
      ${group.documents.map((d, i) => html`${i > 0 ? ", " : ""}${d.name
        ? html`<a href=${`/documents/${d.id}`}>${d.name}</a>`
        : documentName(d)}`)}</p>`}
  </li>`;
}

/**
 * "Where the class is stuck" (`kind` "stuck") or "gaps": a section that asks the server only once opened (grouping
 * questions by meaning is the heaviest question a dashboard asks).
 */
export function GroupsSection({ kind, period }) {
  const [open, setOpen] = useState(false);
  return html`<details class="card groups" onToggle=${(e) => setOpen(e.currentTarget.open)}>
    <summary><h2>${t(`analytics.${kind}_title`)}</h2></summary>
    <p class="muted">${t(`analytics.${kind}_intro`)}</p>
    ${open && html`<${Groups} kind=${kind} period=${period} />`}
  </details>`;
}

function Groups({ kind, period }) {
  const groups = useLoad(() => api.get(withQuery(`/analytics/${kind}`, period)),
    [kind, period.from, period.to, period.class_id]);
  if (groups.error) return html`<${ErrorNotice} error=${groups.error} />`;
  if (!groups.data) return html`<${Loading} />`;
  if (groups.data.groups.length === 0) return html`<p>${t(`analytics.${kind}_none`)}</p>`;
  return html`<ul class="cards group-cards" aria-label=${t(`analytics.${kind}_title`)}>
    ${groups.data.groups.map((g, i) => html`<${GroupCard} key=${i} group=${g} />`)}
  </ul>`;
}
