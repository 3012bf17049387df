// Citations: numbered chips under an answer, each opening its passage in a viewer dialog over the conversation
// (the conversation keeps streaming underneath), with a link to the full document page.
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { t } from "../lib/i18n.js";
import { place } from "../lib/format.js";
import { track } from "../lib/events.js";
import { DocumentContent } from "../pages/viewer.js";

/** Where the viewer opens a citation: the exact passage when known, else its page, slide or moment. */
export function citationQuery(citation) {
  const query = {};
  if (citation.chunk_id) query.chunk = citation.chunk_id;
  if (citation.page != null) query.page = citation.page;
  else if (citation.slide != null) query.slide = citation.slide;
  else if (citation.start_ms != null) query.at = citation.start_ms;
  return query;
}

export function CitationChips({ citations, onOpen }) {
  if (!citations || citations.length === 0) return null;
  return html`<ol class="citations" aria-label=${t("chat.sources")}>
    ${citations.map(
      (c) => html`<li key=${c.index}>
        <button type="button" class="chip" title=${c.snippet} onClick=${() => onOpen(c)}
          aria-label=${t("chat.open_source", { n: c.index, name: c.document_name, place: place(c) })}>
          <span class="chip-n">${c.index}</span> ${c.document_name}${place(c) ? ` · ${place(c)}` : ""}
        </button>
      </li>`,
    )}
  </ol>`;
}

/**
 * The cited passage over the page. Closing goes through the dialog itself (its button, Escape), at once: the page
 * behind is inert until then, so a close that waited for the next render would swallow what is typed next.
 */
export function CitationViewer({ citation, onClose }) {
  const ref = useRef(null);
  const [query, setQuery] = useState(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (citation) {
      setQuery(citationQuery(citation));
      if (!dialog.open) dialog.showModal();
      track("citation_opened", { message_id: citation.message_id, data: { document_id: citation.document_id } });
    } else if (dialog.open) {
      dialog.close();
    }
  }, [citation]);
  const full = citation && `/documents/${citation.document_id}?${new URLSearchParams(citationQuery(citation))}`;
  return html`<dialog ref=${ref} class="viewer-dialog" aria-label=${t("viewer.dialog")} onClose=${onClose}>
    <div class="dialog-bar">
      ${full && html`<a href=${full}>${t("viewer.open_page")}</a>`}
      <button type="button" onClick=${() => ref.current.close()}>${t("common.close")}</button>
    </div>
    ${citation && query &&
    html`<${DocumentContent} id=${citation.document_id} query=${query} onGo=${setQuery} level=${2} />`}
  </dialog>`;
}
