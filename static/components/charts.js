// Charts for the analytics pages. Lines over days are drawn by uPlot (vendor/uPlot.esm.js, loaded on first use, so
// no other page pays for it); bars are plain HTML. Every chart is for the eye only: a line chart's numbers are also
// in a visually hidden table, and each bar carries its number as text.
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { t } from "../lib/i18n.js";

// The series colours, in order; app.css gives the legend's swatches (.swatch.series-N) the same ones.
const COLORS = ["#1d4ed8", "#15803d", "#b45309"];
const FILL = "rgba(29, 78, 216, 0.12)";
const AXIS = "#4b5563";
const GRID = "#e5e7eb";
const FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
// Steps between the y axis's ticks: whole numbers only (these are counts).
const STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 1_000_000];

/** A `YYYY-MM-DD` day as the local midnight uPlot draws it at (seconds), so its labels show that same date. */
function dayToSeconds(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d).getTime() / 1000;
}

/** A day for people: "Mon 3 Nov" in the reader's language. */
export function dayLabel(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
}

/**
 * Counts per day as lines: `days` are the API's rows (`{day, …}`), `series` the keys to draw with their labels,
 * `[{key, label}]`; the first is filled below its line. `caption` names the chart and its hidden table.
 */
export function LineChart({ days, series, caption, height = 240 }) {
  const box = useRef(null);
  const [readout, setReadout] = useState("");
  const [failed, setFailed] = useState(false);
  const describe = (i) => {
    const row = days[i];
    if (!row) return "";
    const parts = series.map((s) => t("charts.value", { label: s.label, n: row[s.key] }));
    return `${dayLabel(row.day)}: ${parts.join(" · ")}`;
  };
  useEffect(() => {
    let live = true;
    let plot = null;
    let observer = null;
    import("../vendor/uPlot.esm.js")
      .then(({ default: UPlot }) => {
        const el = box.current;
        if (!live || !el) return;
        const data = [days.map((d) => dayToSeconds(d.day)), ...series.map((s) => days.map((d) => d[s.key]))];
        const axis = { stroke: AXIS, font: FONT, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } };
        plot = new UPlot({
          width: Math.max(200, el.clientWidth),
          height,
          legend: { show: false },
          cursor: { drag: { x: false, y: false }, points: { size: 7 } },
          scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] } },
          axes: [axis, { ...axis, size: 44, incrs: STEPS, values: (u, ticks) => ticks.map((v) => String(v)) }],
          series: [{}, ...series.map((s, i) => ({
            label: s.label, stroke: COLORS[i % COLORS.length], width: 2, fill: i === 0 ? FILL : undefined,
            points: { show: days.length <= 35 },
          }))],
          hooks: { setCursor: [(u) => setReadout(u.cursor.idx == null ? "" : describe(u.cursor.idx))] },
        }, data, el);
        observer = new ResizeObserver(() => {
          if (plot && el.clientWidth > 0) plot.setSize({ width: el.clientWidth, height });
        });
        observer.observe(el);
      })
      .catch((error) => {
        console.warn("chart:", error);
        if (live) setFailed(true);
      });
    return () => {
      live = false;
      if (observer) observer.disconnect();
      if (plot) plot.destroy();
    };
  }, [days, series.map((s) => s.key).join()]);

  return html`<figure class="chart line-chart">
    <figcaption><h2 class="card-title">${caption}</h2></figcaption>
    <ul class="chart-legend" aria-hidden="true">
      ${series.map((s, i) => html`<li key=${s.key}><span class=${`swatch series-${i}`}></span>${s.label}</li>`)}
    </ul>
    ${failed
      ? html`<p class="muted small">${t("charts.failed")}</p>`
      : html`<div class="chart-plot" ref=${box} aria-hidden="true"></div>`}
    <p class="chart-readout muted small" aria-hidden="true">${readout || t("charts.hover")}</p>
    <div class="visually-hidden"><table>
      <caption>${caption}</caption>
      <thead><tr>
        <th scope="col">${t("charts.day")}</th>${series.map((s) => html`<th scope="col">${s.label}</th>`)}
      </tr></thead>
      <tbody>
        ${days.map((d) => html`<tr key=${d.day}><th scope="row">${dayLabel(d.day)}</th>
          ${series.map((s) => html`<td>${d[s.key]}</td>`)}</tr>`)}
      </tbody>
    </table></div>
  </figure>`;
}

/**
 * Horizontal bars: `label(item)` names a bar (a link when `href(item)` gives one), `value(item)` sizes it and
 * `text(item)` says it (default: the number). The bar itself is decoration; its words are the chart.
 */
export function BarChart({ items, label, value, text = (item) => String(value(item)), href, caption, empty }) {
  const max = Math.max(1, ...items.map(value));
  return html`<figure class="chart bar-chart">
    <figcaption><h2 class="card-title">${caption}</h2></figcaption>
    ${items.length === 0 && html`<p class="muted">${empty}</p>`}
    ${items.length > 0 && html`<ol class="bar-list">
      ${items.map((item, i) => {
        const link = href && href(item);
        return html`<li key=${i}>
          <span class="bar-label">${link ? html`<a href=${link}>${label(item)}</a>` : label(item)}</span>
          <span class="bar-track" aria-hidden="true">
            <span class="bar-fill" style=${{ width: `${Math.round((value(item) / max) * 100)}%` }}></span>
          </span>
          <span class="bar-value">${text(item)}</span>
        </li>`;
      })}
    </ol>`}
  </figure>`;
}
