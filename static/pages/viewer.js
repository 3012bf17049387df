// The document viewer: the text Bwenge extracted, one page, slide or part at a time, opened at a cited passage
// (which is marked and scrolled to) or at a page, slide or moment of a recording.
import { html, useEffect, useRef } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { clock } from "../lib/format.js";
import { navigate } from "../lib/router.js";
import { ErrorNotice, Loading, useLoad } from "../components/ui.js";

const QUERY_KEYS = { chunk: "chunk_id", page: "page", slide: "slide", part: "part", at: "at_ms" };

function contentPath(id, query) {
  const params = new URLSearchParams();
  for (const [from, to] of Object.entries(QUERY_KEYS)) if (query[from] != null) params.set(to, query[from]);
  const search = params.toString();
  return `/documents/${id}/content${search ? `?${search}` : ""}`;
}

function unitLabel(unit, n) {
  return t(`viewer.${unit}`, { n });
}

function Passage({ passage, focused, showHeading }) {
  const ref = useRef(null);
  useEffect(() => {
    if (focused && ref.current) {
      ref.current.scrollIntoView({ block: "center" });
      ref.current.focus({ preventScroll: true });
    }
  }, [focused]);
  return html`<div class=${`passage ${focused ? "focused" : ""}`} ref=${ref} tabindex=${focused ? "-1" : undefined}
      aria-current=${focused ? "true" : undefined} data-chunk=${passage.chunk_id}>
    ${showHeading && passage.heading_path && html`<h3 class="heading-path">${passage.heading_path}</h3>`}
    ${passage.start_ms != null &&
    html`<p class="timestamp">${clock(passage.start_ms)}${passage.end_ms != null ? ` – ${clock(passage.end_ms)}` : ""}</p>`}
    ${focused && html`<p class="visually-hidden">${t("viewer.cited")}</p>`}
    ${passage.text.split(/\n{2,}/).map((para) => html`<p>${para}</p>`)}
  </div>`;
}

/** A document's text at one place; `onGo(query)` moves to another page, slide or part. */
export function DocumentContent({ id, query, onGo, level = 1 }) {
  const content = useLoad(() => api.get(contentPath(id, query)), [id, JSON.stringify(query)]);
  if (content.loading && !content.data) return html`<${Loading} />`;
  if (content.error) return html`<${ErrorNotice} error=${content.error} />`;
  const { document: doc, unit, locations, location, passages, focus } = content.data;
  const at = locations.indexOf(location);
  const go = (n) => onGo({ [unit]: n });
  const Title = `h${level}`;
  const Sub = `h${level + 1}`;
  return html`<article class="viewer">
    <${Title} class="viewer-title">${doc.name}</${Title}>
    ${locations.length > 1 &&
    html`<nav class="viewer-nav" aria-label=${t("viewer.navigation")}>
      <button type="button" disabled=${at <= 0} onClick=${() => go(locations[at - 1])}>
        ${t("common.previous")}</button>
      <label>
        <span class="visually-hidden">${t("viewer.go_to")}</span>
        <select value=${location} onChange=${(e) => go(e.target.value)}>
          ${locations.map((n) => html`<option value=${n} selected=${n === location}>${unitLabel(unit, n)}</option>`)}
        </select>
      </label>
      <span class="muted">${t("viewer.of", { n: locations.length })}</span>
      <button type="button" disabled=${at >= locations.length - 1} onClick=${() => go(locations[at + 1])}>
        ${t("common.next")}</button>
    </nav>`}
    <${Sub} class="viewer-location">${unitLabel(unit, location)}</${Sub}>
    ${passages.length === 0 && html`<p class="muted">${t("viewer.empty")}</p>`}
    ${passages.map(
      (p, i) => html`<${Passage} key=${p.chunk_id} passage=${p} focused=${p.chunk_id === focus}
        showHeading=${i === 0 || passages[i - 1].heading_path !== p.heading_path} />`,
    )}
  </article>`;
}

/** The viewer page: the place is in the address, so it can be shared and reloaded. */
export function DocumentViewer({ id, query }) {
  const onGo = (place) => navigate(`/documents/${id}?${new URLSearchParams(place)}`);
  return html`<div>
    <p><button type="button" class="link" onClick=${() => history.back()}>← ${t("viewer.back")}</button></p>
    <${DocumentContent} id=${id} query=${query} onGo=${onGo} />
  </div>`;
}
