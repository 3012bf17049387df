// The student's pages: the tutors they may talk to, a conversation, and the history of their conversations.
import { html, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { dateTime } from "../lib/format.js";
import { navigate } from "../lib/router.js";
import { Conversation } from "../components/conversation.js";
import { ErrorNotice, Loading, Pagination, useLoad } from "../components/ui.js";

const PER_PAGE = 20;

export function Tutors() {
  const personas = useLoad(() => api.get("/personas?per_page=100"), []);
  return html`<section>
    <h1>${t("tutors.title")}</h1>
    <${ErrorNotice} error=${personas.error} />
    ${personas.loading && !personas.data ? html`<${Loading} />` : null}
    ${personas.data && personas.data.items.length === 0 && html`<p>${t("tutors.none")}</p>`}
    ${personas.data &&
    html`<ul class="cards">
      ${personas.data.items.map(
        (p) => html`<li class="card tutor">
          <h2>${p.name}</h2>
          ${p.description && html`<p>${p.description}</p>`}
          <a class="button primary" href=${`/chat/${p.id}`}>${t("tutors.start", { name: p.name })}</a>
        </li>`,
      )}
    </ul>`}
    <p><a href="/my-sessions">${t("tutors.history")}</a></p>
  </section>`;
}

/** A conversation page: a new one with `personaId`, an existing one with `sessionId`. */
export function Chat({ personaId, sessionId }) {
  // The page keeps its own address in step with the conversation (without re-mounting it): a new conversation
  // gets its session's address once it exists, so a reload comes back to it rather than starting another.
  const [current, setCurrent] = useState({ personaId, sessionId, round: 0, session: sessionId || null });
  const meta = useLoad(() => (current.session ? api.get(`/sessions/${current.session}`) : Promise.resolve(null)),
    [current.session]);
  const forPersona = current.personaId || (meta.data && meta.data.persona_id);
  const persona = useLoad(() => (forPersona ? api.get(`/personas/${forPersona}`) : Promise.resolve(null)), [forPersona]);
  const onSession = (id) => {
    history.replaceState(null, "", `/sessions/${id}`);
    setCurrent((c) => ({ ...c, session: id }));
  };
  const startNew = () => {
    history.pushState(null, "", `/chat/${forPersona}`);
    setCurrent((c) => ({ personaId: forPersona, sessionId: null, round: c.round + 1, session: null }));
  };
  const p = persona.data;
  return html`<section class="chat-page">
    <div class="chat-head">
      <h1>${p ? p.name : t("chat.title")}</h1>
      <div class="actions">
        ${forPersona && html`<button type="button" onClick=${startNew}>${t("chat.new")}</button>`}
        <a href="/my-sessions">${t("tutors.history")}</a>
      </div>
    </div>
    <p class="oversight-note small">${t("chat.visibility")}</p>
    <${ErrorNotice} error=${meta.error || persona.error} />
    <${Conversation} key=${current.round} personaId=${current.personaId} sessionId=${current.sessionId} persona=${p}
      onSession=${onSession} />
  </section>`;
}

export function MySessions({ query }) {
  const page = Number(query.page || 1);
  const sessions = useLoad(() => api.get(`/sessions?page=${page}&per_page=${PER_PAGE}`), [page]);
  return html`<section>
    <h1>${t("history.title")}</h1>
    <${ErrorNotice} error=${sessions.error} />
    ${sessions.loading && !sessions.data ? html`<${Loading} />` : null}
    ${sessions.data && sessions.data.items.length === 0 &&
    html`<p>${t("history.none")} <a href="/tutors">${t("nav.tutors")}</a></p>`}
    ${sessions.data &&
    html`<ul class="session-list">
      ${sessions.data.items.map(
        (s) => html`<li>
          <a href=${`/sessions/${s.id}`}>
            <strong>${s.title || t("history.untitled")}</strong>
            <span class="muted"> · ${s.persona_name} · ${dateTime(s.updated_at)}</span>
          </a>
        </li>`,
      )}
    </ul>`}
    ${sessions.data &&
    html`<${Pagination} page=${page} perPage=${PER_PAGE} total=${sessions.data.total}
      onPage=${(n) => navigate(`/my-sessions?page=${n}`)} />`}
  </section>`;
}
