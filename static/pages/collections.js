// Collections and their documents: create, rename, delete; upload many files by drag and drop with a progress bar
// each (bytes leaving the browser, then the server's processing stage live over the socket); reprocess, delete.
import { html, useEffect, useRef, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { errorMessage } from "../lib/errors.js";
import { bytes, dateTime } from "../lib/format.js";
import { navigate } from "../lib/router.js";
import { useSession } from "../lib/session.js";
import { Confirm, ErrorNotice, Field, Loading, Pagination, PlanLink, ProgressBar, useLoad } from "../components/ui.js";

const PER_PAGE = 20;
const FINAL = ["ready", "failed"];

export function Collections({ query }) {
  const page = Number(query.page || 1);
  const list = useLoad(() => api.get(`/collections?page=${page}&per_page=${PER_PAGE}`), [page]);
  const [form, setForm] = useState({ name: "", description: "" });
  const [error, setError] = useState(null);
  const create = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      const created = await api.post("/collections", form);
      navigate(`/collections/${created.id}`);
    } catch (err) {
      setError(err);
    }
  };
  return html`<section>
    <h1>${t("collections.title")}</h1>
    <p class="muted">${t("collections.intro")}</p>
    ${list.loading && !list.data ? html`<${Loading} />` : null}
    <${ErrorNotice} error=${list.error} />
    ${list.data &&
    (list.data.items.length === 0
      ? html`<p>${t("collections.none")}</p>`
      : html`<ul class="cards">
          ${list.data.items.map(
            (c) => html`<li class="card">
              <h2><a href=${`/collections/${c.id}`}>${c.name}</a></h2>
              ${c.description && html`<p>${c.description}</p>`}
              <p class="muted small">${t("collections.documents", { n: c.document_count })}</p>
            </li>`,
          )}
        </ul>`)}
    ${list.data &&
    html`<${Pagination} page=${page} perPage=${PER_PAGE} total=${list.data.total}
      onPage=${(p) => navigate(`/collections?page=${p}`)} />`}
    <form class="card" onSubmit=${create}>
      <h2>${t("collections.new")}</h2>
      <${Field} label=${t("collections.name")} value=${form.name} required maxlength="200"
        onInput=${(name) => setForm({ ...form, name })} />
      <${Field} label=${t("collections.description")} type="textarea" value=${form.description} maxlength="2000"
        onInput=${(description) => setForm({ ...form, description })} />
      <${ErrorNotice} error=${error} />
      <button class="primary" type="submit">${t("collections.create")}</button>
    </form>
  </section>`;
}

/** A document's state in words: its stage while it works, its failure in the reader's terms. */
export function documentState(doc) {
  if (doc.status === "failed") return t(`ingest.${doc.error_code}`) === `ingest.${doc.error_code}`
    ? doc.error || t("ingest.processing_failed")
    : t(`ingest.${doc.error_code}`);
  if (doc.status === "ready") return t("documents.ready", { n: doc.chunk_count });
  return t(`documents.stage.${doc.stage || doc.status}`);
}

function DocumentProgress({ doc }) {
  if (FINAL.includes(doc.status)) {
    return html`<span class=${`badge ${doc.status}`}>${documentState(doc)}</span>`;
  }
  return html`<${ProgressBar} value=${doc.progress} label=${`${documentState(doc)} · ${doc.name}`} />`;
}

/** Files on their way up: bytes first, then the document the server made of them. */
function Uploads({ uploads }) {
  if (uploads.length === 0) return null;
  return html`<ul class="uploads" aria-label=${t("documents.uploads")}>
    ${uploads.map(
      (u) => html`<li key=${u.key} class="upload">
        ${u.error
          ? html`<div class="notice error" role="alert"><strong>${u.name}</strong>: ${errorMessage(u.error)}
            <${PlanLink} error=${u.error} /></div>`
          : u.doc && FINAL.includes(u.doc.status)
            ? html`<span class="upload-name">${u.name}</span> <${DocumentProgress} doc=${u.doc} />`
            : u.doc
            ? html`<${DocumentProgress} doc=${u.doc} />`
            : html`<${ProgressBar} value=${u.sent * 100} label=${t("documents.uploading", { name: u.name })} />`}
      </li>`,
    )}
  </ul>`;
}

function DropZone({ onFiles }) {
  const input = useRef(null);
  const [over, setOver] = useState(false);
  const drop = (event) => {
    event.preventDefault();
    setOver(false);
    onFiles([...event.dataTransfer.files]);
  };
  return html`<div class=${`dropzone ${over ? "over" : ""}`} onDragOver=${(e) => { e.preventDefault(); setOver(true); }}
    onDragLeave=${() => setOver(false)} onDrop=${drop}>
    <p>${t("documents.drop")}</p>
    <label class="button" for="file-input">${t("documents.choose")}</label>
    <input id="file-input" ref=${input} class="visually-hidden" type="file" multiple
      accept=".pdf,.docx,.pptx,.txt,.md,.mp3,.wav,.m4a,.ogg,.mp4,.webm,.mov,.mkv"
      onChange=${(e) => { onFiles([...e.target.files]); e.target.value = ""; }} />
    <p class="muted small">${t("documents.kinds")}</p>
  </div>`;
}

export function Collection({ id, query }) {
  const { socket } = useSession();
  const page = Number(query.page || 1);
  const collection = useLoad(() => api.get(`/collections/${id}`), [id]);
  const docs = useLoad(() => api.get(`/collections/${id}/documents?page=${page}&per_page=${PER_PAGE}`), [id, page]);
  const [live, setLive] = useState({}); // document id -> latest progress event
  const [uploads, setUploads] = useState([]);
  const [confirm, setConfirm] = useState(null);
  const [error, setError] = useState(null);

  // Progress of this person's uploads arrives on the socket; apply it to the list and the upload rows.
  useEffect(() => socket.on((frame) => {
    if (frame.type === "document.progress") setLive((all) => ({ ...all, [frame.id]: frame }));
  }), [socket]);

  const merge = (doc) => {
    const event = live[doc.id];
    return event ? { ...doc, ...event, error: event.error_message || doc.error } : doc;
  };
  const items = docs.data ? docs.data.items.map(merge) : [];

  // Documents someone else uploaded (or any, while the socket is away) are refreshed until they settle.
  const working = items.some((d) => !FINAL.includes(d.status)) || uploads.some((u) => u.doc && !FINAL.includes(merge(u.doc).status));
  useEffect(() => {
    if (!working) return undefined;
    const timer = setInterval(docs.reload, 4000);
    return () => clearInterval(timer);
  }, [working]);

  const send = (files) => {
    for (const file of files) {
      const key = `${file.name}-${file.size}-${Math.random()}`;
      const row = { key, name: file.name, sent: 0, doc: null, error: null };
      setUploads((all) => [...all, row]);
      const update = (change) => setUploads((all) => all.map((u) => (u.key === key ? { ...u, ...change } : u)));
      api
        .upload(id, file, (sent) => update({ sent }))
        .then((doc) => {
          update({ doc, sent: 1 });
          docs.reload();
        })
        .catch((err) => update({ error: err }));
    }
  };

  const act = async (action) => {
    setError(null);
    try {
      await action();
      docs.reload();
    } catch (err) {
      setError(err);
    }
  };

  const remove = () => setConfirm({
    title: t("collections.delete_title"),
    body: t("collections.delete_body"),
    run: async () => {
      await api.del(`/collections/${id}`);
      navigate("/collections");
    },
  });

  if (collection.loading && !collection.data) return html`<${Loading} />`;
  if (collection.error) return html`<${ErrorNotice} error=${collection.error} />`;
  const c = collection.data;
  return html`<section>
    <p><a href="/collections">← ${t("collections.title")}</a></p>
    <h1>${c.name}</h1>
    ${c.description && html`<p>${c.description}</p>`}
    <${EditCollection} collection=${c} onSaved=${collection.reload} />
    <h2>${t("documents.title")}</h2>
    <${DropZone} onFiles=${send} />
    <${Uploads} uploads=${uploads.map((u) => (u.doc ? { ...u, doc: merge(u.doc) } : u))} />
    <${ErrorNotice} error=${error} />
    ${docs.data && items.length === 0 ? html`<p>${t("documents.none")}</p>` : null}
    ${items.length > 0 &&
    html`<div class="table-wrap"><table>
      <caption class="visually-hidden">${t("documents.title")}</caption>
      <thead><tr>
        <th scope="col">${t("documents.name")}</th><th scope="col">${t("documents.size")}</th>
        <th scope="col">${t("documents.state")}</th><th scope="col">${t("documents.added")}</th>
        <th scope="col"><span class="visually-hidden">${t("common.actions")}</span></th>
      </tr></thead>
      <tbody>
        ${items.map(
          (d) => html`<tr key=${d.id}>
            <td>${d.status === "ready" ? html`<a href=${`/documents/${d.id}`}>${d.name}</a>` : d.name}</td>
            <td>${bytes(d.size_bytes)}</td>
            <td class="state"><${DocumentProgress} doc=${d} /></td>
            <td>${dateTime(d.created_at)}</td>
            <td class="actions">
              <button type="button" disabled=${!FINAL.includes(d.status)}
                aria-label=${t("documents.reprocess_named", { name: d.name })}
                onClick=${() => act(() => api.post(`/documents/${d.id}/reprocess`))}>${t("documents.reprocess")}</button>
              <button type="button" class="danger" aria-label=${t("documents.delete_named", { name: d.name })}
                onClick=${() => setConfirm({
                  title: t("documents.delete_title", { name: d.name }),
                  body: t("documents.delete_body"),
                  run: () => act(() => api.del(`/documents/${d.id}`)),
                })}>${t("common.delete")}</button>
            </td>
          </tr>`,
        )}
      </tbody>
    </table></div>`}
    ${docs.data &&
    html`<${Pagination} page=${page} perPage=${PER_PAGE} total=${docs.data.total}
      onPage=${(p) => navigate(`/collections/${id}?page=${p}`)} />`}
    <p><button type="button" class="danger" onClick=${remove}>${t("collections.delete")}</button></p>
    <${Confirm} open=${Boolean(confirm)} title=${confirm && confirm.title} body=${confirm && confirm.body}
      confirmLabel=${t("common.delete")} danger onCancel=${() => setConfirm(null)}
      onConfirm=${() => { const run = confirm.run; setConfirm(null); run().catch(setError); }} />
  </section>`;
}

function EditCollection({ collection, onSaved }) {
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ name: collection.name, description: collection.description });
  const [error, setError] = useState(null);
  if (!open) {
    return html`<p><button type="button" onClick=${() => setOpen(true)}>${t("collections.edit")}</button></p>`;
  }
  const save = async (event) => {
    event.preventDefault();
    try {
      await api.patch(`/collections/${collection.id}`, form);
      setOpen(false);
      onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${save}>
    <${Field} label=${t("collections.name")} value=${form.name} required maxlength="200"
      onInput=${(name) => setForm({ ...form, name })} />
    <${Field} label=${t("collections.description")} type="textarea" value=${form.description} maxlength="2000"
      onInput=${(description) => setForm({ ...form, description })} />
    <${ErrorNotice} error=${error} />
    <div class="actions">
      <button type="button" onClick=${() => setOpen(false)}>${t("common.cancel")}</button>
      <button class="primary" type="submit">${t("common.save")}</button>
    </div>
  </form>`;
}
