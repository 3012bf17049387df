// The weekly report of the analytics page: one ISO week (by default the last full one) as a printable page or a
// CSV file, both fetched with the access token. The page shows the printable report inside itself, in a shadow
// root: a Blob URL or an iframe would inherit this app's Content-Security-Policy, which refuses the report's
// inline styles; the shadow root takes them as a constructed style sheet, which the policy allows. The styles are
// taken out of the text before anything parses it: even an inert parse reports them to the policy as violations.
import { html, useEffect, useRef, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import DOMPurify from "../vendor/purify.mjs";
import { ErrorNotice, Field } from "../components/ui.js";
import { withQuery } from "./analytics-parts.js";

/** The ISO week (`2026-W47`) a date falls in. */
export function isoWeek(date) {
  const d = new Date(Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()));
  d.setUTCDate(d.getUTCDate() + 4 - (d.getUTCDay() || 7)); // the week's Thursday decides its year
  const year = d.getUTCFullYear();
  const week = Math.ceil(((d - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, "0")}`;
}

export function lastFullWeek(now = new Date()) {
  return isoWeek(new Date(now.getFullYear(), now.getMonth(), now.getDate() - 7));
}

/** Saves `blob` as a file named `name`, through a download link that is clicked once and dropped. */
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function WeeklyReport({ classId }) {
  const [week, setWeek] = useState(lastFullWeek);
  const [busy, setBusy] = useState(null); // "html" or "csv" while fetching
  const [error, setError] = useState(null);
  const [markup, setMarkup] = useState(null);
  const valid = /^\d{4}-W\d{2}$/.test(week);
  const fetchReport = async (format, accept) => {
    setBusy(format);
    setError(null);
    try {
      return await api.fetchBlob(withQuery("/analytics/reports/weekly", { week, class_id: classId, format }), accept);
    } catch (err) {
      setError(err);
      return null;
    } finally {
      setBusy(null);
    }
  };
  const open = async () => {
    const blob = await fetchReport("html", "text/html");
    if (blob) setMarkup(await blob.text());
  };
  const download = async () => {
    const blob = await fetchReport("csv", "text/csv");
    if (blob) save(blob, `bwenge-report-${week}.csv`);
  };
  return html`<section class="card weekly-report" aria-labelledby="weekly-report-title">
    <h2 id="weekly-report-title">${t("report.title")}</h2>
    <p class="muted">${t("report.intro")}</p>
    <form class="report-form" onSubmit=${(e) => { e.preventDefault(); if (valid) open(); }}>
      <${Field} label=${t("report.week")} type="week" value=${week} onInput=${setWeek} required
        hint=${t("report.week_hint")} pattern="[0-9]{4}-W[0-9]{2}" />
      <div class="actions">
        <button type="submit" class="primary" disabled=${!valid || busy}>
          ${busy === "html" ? t("report.fetching") : t("report.open")}</button>
        <button type="button" disabled=${!valid || busy} onClick=${download}>
          ${busy === "csv" ? t("report.fetching") : t("report.csv")}</button>
      </div>
    </form>
    <${ErrorNotice} error=${error} />
    ${markup && html`<${ReportView} markup=${markup} onClose=${() => setMarkup(null)} />`}
  </section>`;
}

/**
 * The report's `<style>` sheets as one text, and the report without them or any `style` attribute. The report's
 * own text is escaped (`<` as `&lt;`), so every `<` starts one of its tags.
 */
export function splitStyles(markup) {
  const sheets = [];
  let rest = markup.replace(/<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi, (_, css) => {
    sheets.push(css);
    return "";
  });
  const attribute = /(<[^>]*?)\sstyle\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)/gi;
  for (let before = null; before !== rest;) {
    before = rest;
    rest = rest.replace(attribute, "$1");
  }
  return { css: sheets.join("\n"), body: rest };
}

/** The server's report, sanitized, in a shadow root with its own styles; printed alone by the Print button. */
function ReportView({ markup, onClose }) {
  const host = useRef(null);
  const region = useRef(null);
  useEffect(() => {
    const { css, body } = splitStyles(markup);
    const clean = DOMPurify.sanitize(body, {
      USE_PROFILES: { html: true, svg: true },
      FORBID_TAGS: ["style", "script", "iframe", "form", "input", "button", "img"],
      FORBID_ATTR: ["style"],
    });
    const root = host.current.shadowRoot || host.current.attachShadow({ mode: "open" });
    try {
      const sheet = new CSSStyleSheet();
      // The report styles its <body>; here its content sits in the host instead.
      sheet.replaceSync(`:host{display:block;background:#fff;color:#111;padding:0 0.5rem}${css}`);
      root.adoptedStyleSheets = [sheet];
    } catch {
      // A browser without constructed style sheets shows the report unstyled: still whole, still readable.
    }
    root.innerHTML = clean;
    region.current.focus();
  }, [markup]);
  const print = () => {
    const root = document.documentElement;
    root.classList.add("printing-report");
    addEventListener("afterprint", () => root.classList.remove("printing-report"), { once: true });
    window.print();
  };
  return html`<div class="report-view" role="region" aria-label=${t("report.region")} tabindex="-1" ref=${region}>
    <div class="actions no-print">
      <button type="button" class="primary" onClick=${print}>${t("report.print")}</button>
      <button type="button" onClick=${onClose}>${t("common.close")}</button>
    </div>
    <div class="report-doc" ref=${host}></div>
  </div>`;
}
