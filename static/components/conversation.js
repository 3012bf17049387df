// A conversation with a tutor over the page's socket: answers stream in as sanitized Markdown with numbered
// citations; the student may stop an answer; a dropped connection resumes from the last message seen, and a
// question that had not reached the server is sent again, so nothing typed is lost. The tutor's figure acts out the
// answer's cues and, with Read aloud on, speaks it (lib/avatar-stage.js).
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { t } from "../lib/i18n.js";
import { errorMessage } from "../lib/errors.js";
import { renderMarkdown } from "../lib/markdown.js";
import { useSession } from "../lib/session.js";
import { ErrorNotice, Notice, PlanLink } from "./ui.js";
import { CitationChips, CitationViewer } from "./citations.js";
import { ReadAloudToggle, TutorAvatar } from "./avatar.js";
import { AvatarStage } from "../lib/avatar-stage.js";

let sequence = 0;
const newClientId = () => `c-${Date.now().toString(36)}-${(sequence += 1)}`;
// Message ids are UUIDv7: their text order is their time order.
const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const TYPING_EVERY_MS = 3000;

/** One message, the student's or the tutor's; shared with the read-only transcript. */
export function MessageItem({ message, speaker, onCite: open }) {
  const citations = message.citations || [];
  const onCite = (citation) => open({ ...citation, message_id: message.id }); // which answer's source, for analytics
  const cited = (n) => citations.some((c) => c.index === n);
  const openMark = (event) => {
    const mark = event.target.closest && event.target.closest("a[data-cite]");
    if (!mark) return;
    event.preventDefault();
    const citation = citations.find((c) => c.index === Number(mark.dataset.cite));
    if (citation) onCite(citation);
  };
  const body =
    message.role === "user"
      ? html`<p class="user-text">${message.content}</p>`
      : html`<div class="markdown" onClick=${openMark}
          dangerouslySetInnerHTML=${{ __html: renderMarkdown(message.content, cited) }}></div>`;
  return html`<li class=${`message ${message.role} ${message.status || ""}`}>
    <p class="speaker">${speaker}</p>
    <div class="bubble">
      ${body}
      ${message.status === "streaming" && html`<span class="caret" aria-hidden="true"></span>`}
      ${message.answered_by === "extractive" && html`<p class="note">${t("chat.extractive")}</p>`}
      ${message.status === "cancelled" && html`<p class="note">${t("chat.stopped")}</p>`}
      ${message.status === "interrupted" && html`<p class="note">${t("chat.interrupted")}</p>`}
      ${message.status === "failed" &&
      html`<p class="note error">${errorMessage({ code: message.error_code || "llm_unavailable" })}</p>`}
      ${message.pending && html`<p class="note">${message.sent ? t("chat.sending") : t("chat.waiting")}</p>`}
      ${message.refused && html`<p class="note error" role="alert">${errorMessage(message.refused)}
        <${PlanLink} error=${message.refused} /></p>`}
    </div>
    <${CitationChips} citations=${citations} onOpen=${onCite} />
  </li>`;
}

/** `figure={false}` leaves the tutor's figure out (the persona editor previews it on its own). */
export function Conversation({ personaId, sessionId, persona, onSession, figure = true }) {
  const { socket, me } = useSession();
  const [, render] = useState(0);
  const refresh = () => render((n) => n + 1);
  // The conversation is a state machine fed by frames; one mutable record keeps it consistent between renders.
  const st = useRef({ session: null, messages: [], answerId: null, expecting: false, askedNew: false }).current;
  const [status, setStatus] = useState(socket.status);
  const [error, setError] = useState(null);
  const [draft, setDraft] = useState("");
  const [cue, setCue] = useState("idle");
  const [othersTyping, setOthersTyping] = useState(false);
  const [announce, setAnnounce] = useState("");
  const [viewing, setViewing] = useState(null);
  const list = useRef(null);
  const lastTyping = useRef(0);
  const stageRef = useRef(null);
  if (!stageRef.current) stageRef.current = new AvatarStage();
  const stage = stageRef.current;

  const sendPending = (message) => {
    message.sent = socket.send(
      { type: "message.send", session_id: st.session.id, content: message.content, client_id: message.clientId },
      { queue: false },
    );
  };

  const target = (messageId) => {
    let message = st.messages.find((m) => m.id === messageId);
    if (!message && st.expecting) {
      message = { id: messageId, role: "assistant", content: "", status: "streaming", citations: [] };
      st.messages.push(message);
      st.expecting = false;
      st.answerId = messageId;
    }
    return message;
  };

  const ready = (frame) => {
    const session = frame.session;
    if (st.session ? session.id !== st.session.id : !(st.askedNew && session.persona_id === personaId) && session.id !== sessionId) return;
    const first = !st.session;
    const fresh = first && st.askedNew; // a conversation this page started, not one reopened
    st.session = session;
    st.askedNew = false;
    const known = new Map(st.messages.filter((m) => m.id).map((m) => [m.id, m]));
    for (const m of frame.history) known.set(m.id, { ...m });
    const pending = st.messages.filter((m) => !m.id);
    st.messages = [...known.values()].sort(byId);
    // A (re)connection ends whatever this page was waiting for; the stored answer says how it ended.
    st.answerId = null;
    st.expecting = false;
    for (const message of pending) {
      const stored = frame.history.find((m) => m.role === "user" && m.content === message.content);
      if (!stored) {
        st.messages.push(message);
        sendPending(message);
      }
    }
    if (first && onSession) onSession(session.id);
    // A new conversation opens with the greeting's own cues (its wave): stored with it, never streamed.
    const greeting = fresh && frame.history.length === 1 && frame.history[0];
    if (greeting && greeting.role === "assistant") {
      for (const c of greeting.cues || []) stage.cue({ ...c, message_id: greeting.id, clip: null }, greeting.content);
    }
    refresh();
  };

  useEffect(() => {
    const stop = socket.on((frame) => {
      switch (frame.type) {
        case "socket.status":
          setStatus(frame.status);
          return;
        case "session.ready":
          ready(frame);
          return;
        case "message.accepted": {
          const mine = st.messages.find((m) => m.pending && m.clientId === frame.client_id);
          if (!mine) return;
          Object.assign(mine, { id: frame.message_id, pending: false });
          st.expecting = true;
          socket.seen(st.session.id, frame.message_id);
          setCue("think");
          break;
        }
        case "answer.delta": {
          const message = target(frame.message_id);
          if (!message) return;
          message.content += frame.text;
          stage.text(frame.message_id, message.content);
          break;
        }
        case "answer.citation": {
          const message = target(frame.message_id);
          if (!message) return;
          const { type, message_id, ...citation } = frame;
          message.citations = [...(message.citations || []).filter((c) => c.index !== citation.index), citation]
            .sort((a, b) => a.index - b.index);
          break;
        }
        case "avatar.cue": {
          const message = target(frame.message_id);
          if (!message) return;
          setCue(frame.cue);
          stage.cue(frame, message.content);
          return;
        }
        case "answer.done": {
          const message = target(frame.message_id);
          if (!message) return;
          message.status = frame.status;
          stage.done(frame.message_id, message.content, frame.status);
          if (st.answerId === frame.message_id) st.answerId = null;
          socket.seen(st.session.id, frame.message_id);
          setAnnounce(t("chat.answered", { text: message.content.slice(0, 500) }));
          break;
        }
        case "typing":
          if (st.session && frame.session_id === st.session.id && (!me.user || frame.user_id !== me.user.id)) {
            setOthersTyping(true);
            clearTimeout(st.typingTimer);
            st.typingTimer = setTimeout(() => setOthersTyping(false), 4000);
          }
          return;
        case "error": {
          // Over the socket a plan's limit refuses a question only for the month's messages, which the frame
          // may not spell out in details.
          if (frame.code === "quota_exceeded" && !frame.details) frame.details = { quota: "messages_per_month" };
          if (frame.message_id) {
            const message = target(frame.message_id);
            if (message) Object.assign(message, { status: "failed", error_code: frame.code });
            st.answerId = null;
            stage.stop();
          } else {
            // A question the server refused (a turn in progress, a limit): say so on the question itself.
            const refused = st.messages.find((m) => m.pending && m.sent);
            if (refused) Object.assign(refused, { pending: false, refused: frame });
            else setError(frame);
          }
          st.expecting = false;
          setCue("idle");
          break;
        }
        default:
          return;
      }
      refresh();
    });
    // The socket may have opened between this component's first render and now: its status then, not a stale one.
    setStatus(socket.status);
    st.askedNew = !sessionId;
    socket.openSession({ sessionId, personaId });
    return () => {
      stop();
      stage.stop();
      if (st.session) socket.forget(st.session.id);
    };
  }, [socket, sessionId, personaId]);

  // Follow the conversation down as it grows, unless the reader scrolled up to read.
  useEffect(() => {
    const el = list.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 160) el.scrollTop = el.scrollHeight;
  });

  const busy = st.expecting || st.answerId !== null;
  const submit = (event) => {
    event.preventDefault();
    const content = draft.trim();
    if (!content || !st.session || busy) return;
    const message = { clientId: newClientId(), role: "user", content, pending: true, sent: false };
    st.messages.push(message);
    sendPending(message);
    stage.stop(); // the last answer's voice stops for the new question
    setDraft("");
    setError(null);
    refresh();
  };
  const onKeyDown = (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) submit(event);
  };
  const onInput = (value) => {
    setDraft(value);
    if (st.session && Date.now() - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = Date.now();
      socket.send({ type: "typing", session_id: st.session.id }, { queue: false });
    }
  };
  const stopAnswer = () => {
    stage.stop();
    socket.send({ type: "message.cancel", session_id: st.session.id }, { queue: false });
  };
  const tutor = persona ? persona.name : t("chat.tutor");

  return html`<div class=${`conversation ${figure ? "" : "no-figure"}`}>
    ${figure && html`<${TutorAvatar} persona=${persona} stage=${stage} cue=${cue} />`}
    <div class="chat-main">
      ${status !== "open" && html`<${Notice} kind="warning"><p>${t(`chat.socket_${status}`)}</p><//>`}
      <ol class="messages" ref=${list} aria-label=${t("chat.conversation")} tabindex="0">
        ${st.messages.map(
          (m) => html`<${MessageItem} key=${m.id || m.clientId} message=${m}
            speaker=${m.role === "user" ? t("chat.you") : tutor} onCite=${setViewing} />`,
        )}
      </ol>
      <div class="typing" role="status">
        ${st.expecting ? t("chat.thinking", { name: tutor }) : othersTyping ? t("chat.someone_typing") : ""}
      </div>
      <p class="visually-hidden" aria-live="polite">${announce}</p>
      <${ErrorNotice} error=${error && { code: error.code, message: error.message, details: error.details }} />
      <form class="composer" onSubmit=${submit}>
        <label for="composer-input" class="visually-hidden">${t("chat.your_question")}</label>
        <textarea id="composer-input" rows="2" value=${draft} placeholder=${t("chat.placeholder")}
          maxlength="4000" onInput=${(e) => onInput(e.target.value)} onKeyDown=${onKeyDown}
          disabled=${!st.session}></textarea>
        ${busy
          ? html`<button type="button" class="danger" onClick=${stopAnswer}>${t("chat.stop")}</button>`
          : html`<button type="submit" class="primary" disabled=${!st.session || !draft.trim()}>${t("chat.send")}</button>`}
      </form>
      <div class="chat-foot">
        <p class="muted small">${t("chat.hint")}</p>
        <${ReadAloudToggle} stage=${stage} />
      </div>
    </div>
    <${CitationViewer} citation=${viewing} onClose=${() => setViewing(null)} />
  </div>`;
}
