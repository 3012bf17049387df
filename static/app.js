// The app: restores the session from the refresh cookie, then routes by path and role. Pages are modules under
// pages/; every request goes through lib/api.js, every string through lib/i18n.js.
import { html, render, useEffect, useState } from "./lib/html.js";
import * as api from "./lib/api.js";
import { chooseLanguage, t } from "./lib/i18n.js";
import { match, navigate, onLinkClick, useLocation } from "./lib/router.js";
import { Session, atLeast, useSession } from "./lib/session.js";
import { ChatSocket } from "./lib/socket.js";
import { track } from "./lib/events.js";
import { useUnreadAlerts } from "./lib/alerts.js";
import { Loading } from "./components/ui.js";
import { SignIn, Register, AcceptInvitation } from "./pages/auth.js";
import { Collections, Collection } from "./pages/collections.js";
import { DocumentViewer } from "./pages/viewer.js";
import { Personas, PersonaEditor } from "./pages/personas.js";
import { Avatars } from "./pages/avatars.js";
import { ClassEditor, Classes } from "./pages/classes.js";
import { Tutors, Chat, MySessions } from "./pages/chat.js";
import { StudentSessions, Transcript } from "./pages/sessions.js";
import { Users, Invitations, ApiKeys, Audit, System } from "./pages/admin.js";
import { Analytics } from "./pages/analytics.js";
import { PersonaAnalytics, StudentAnalytics } from "./pages/analytics-detail.js";
import { Alerts } from "./pages/alerts.js";
import { OversightSettings } from "./pages/oversight.js";
import { Billing } from "./pages/billing.js";

chooseLanguage();

// Addresses made outside the app (Stripe's way back, `/#/billing?checkout=done`) may name the page in the fragment;
// the app routes by path, so the fragment becomes the path before anything reads it.
if (window.location.hash.startsWith("#/")) history.replaceState(null, "", window.location.hash.slice(1));

const PUBLIC = [
  ["/signin", SignIn],
  ["/register", Register],
  ["/invite/:token", AcceptInvitation],
];

// Each route names the least role that may open it; the server checks again on every call.
const ROUTES = [
  ["/tutors", Tutors, "student"],
  ["/chat/:personaId", Chat, "student"],
  ["/my-sessions", MySessions, "student"],
  ["/sessions/:id", SessionPage, "student"],
  ["/documents/:id", DocumentViewer, "student"],
  ["/collections", Collections, "teacher"],
  ["/collections/:id", Collection, "teacher"],
  ["/personas", Personas, "teacher"],
  ["/personas/:id", PersonaEditor, "teacher"],
  ["/avatars", Avatars, "teacher"],
  ["/classes", Classes, "teacher"],
  ["/classes/:id", ClassEditor, "teacher"],
  ["/students", StudentSessions, "teacher"],
  ["/analytics", Analytics, "teacher"],
  ["/analytics/settings", OversightSettings, "teacher"],
  ["/analytics/students/:id", StudentAnalytics, "teacher"],
  ["/analytics/personas/:id", PersonaAnalytics, "teacher"],
  ["/alerts", Alerts, "teacher"],
  ["/admin/users", Users, "admin"],
  ["/admin/invitations", Invitations, "teacher"],
  ["/admin/keys", ApiKeys, "admin"],
  ["/admin/audit", Audit, "admin"],
  ["/admin/system", System, "admin"],
  ["/billing", Billing, "admin"],
];

function home(role) {
  return role === "student" ? "/tutors" : "/collections";
}

/** A session page is a chat for its student and a transcript for staff. */
function SessionPage({ id, query }) {
  const session = useSession();
  return session.me.role === "student"
    ? html`<${Chat} sessionId=${id} />`
    : html`<${Transcript} id=${id} query=${query} />`;
}

/** The Alerts link, with the number of unread alerts beside it (read out as part of the link). */
function AlertsLink({ current }) {
  const unread = useUnreadAlerts();
  return html`<a href="/alerts" aria-current=${current ? "page" : undefined}>
    ${t("nav.alerts")}${unread > 0 && html`
      <span class="badge count" aria-hidden="true">${unread > 99 ? "99+" : unread}</span>
      <span class="visually-hidden">${t("nav.alerts_unread", { n: unread })}</span>`}
  </a>`;
}

function Nav({ me }) {
  const role = me.role;
  const links = [
    role === "student" && ["/tutors", t("nav.tutors")],
    role === "student" && ["/my-sessions", t("nav.my_sessions")],
    atLeast(role, "teacher") && ["/collections", t("nav.collections")],
    atLeast(role, "teacher") && ["/personas", t("nav.personas")],
    atLeast(role, "teacher") && ["/avatars", t("nav.avatars")],
    atLeast(role, "teacher") && ["/classes", t("nav.classes")],
    atLeast(role, "teacher") && ["/analytics", t("nav.analytics")],
    atLeast(role, "teacher") && ["/alerts", null],
    atLeast(role, "teacher") && ["/students", t("nav.students")],
    atLeast(role, "teacher") && ["/admin/invitations", t("nav.invitations")],
    atLeast(role, "admin") && ["/admin/users", t("nav.users")],
    atLeast(role, "admin") && ["/admin/keys", t("nav.keys")],
    atLeast(role, "admin") && ["/admin/audit", t("nav.audit")],
    atLeast(role, "admin") && ["/admin/system", t("nav.system")],
    atLeast(role, "admin") && ["/billing", t("nav.billing")],
  ].filter(Boolean);
  const path = window.location.pathname;
  return html`<nav class="main-nav" aria-label=${t("nav.label")}>
    <ul>
      ${links.map(
        ([href, label]) => html`<li>${href === "/alerts"
          ? html`<${AlertsLink} current=${path.startsWith(href)} />`
          : html`<a href=${href} aria-current=${path.startsWith(href) ? "page" : undefined}>${label}</a>`}</li>`,
      )}
    </ul>
  </nav>`;
}

function Shell({ session, children }) {
  const { me } = session;
  return html`<div class="shell" onClick=${onLinkClick}>
    <a class="skip-link" href="#main">${t("nav.skip")}</a>
    <header class="top">
      <a class="brand" href=${home(me.role)}>Bwenge</a>
      <span class="org">${me.org.name}</span>
      <${Nav} me=${me} />
      <div class="account">
        <span class="who">${me.user ? me.user.name : t("nav.api_key")} · ${t(`roles.${me.role}`)}</span>
        <button type="button" onClick=${() => api.signOut().then(() => navigate("/signin"))}>
          ${t("nav.sign_out")}
        </button>
      </div>
    </header>
    <main id="main" tabindex="-1">${children}</main>
  </div>`;
}

function App() {
  const location = useLocation();
  const [session, setSession] = useState(undefined); // undefined: still restoring
  const signIn = async () => {
    const me = await api.get("/auth/me");
    setSession((previous) => {
      if (previous && previous.socket) previous.socket.close();
      return { me, socket: new ChatSocket(), signIn, signOut };
    });
  };
  const signOut = () => setSession((previous) => {
    if (previous && previous.socket) previous.socket.close();
    return null;
  });

  useEffect(() => {
    api.restore().then((ok) => (ok ? signIn() : setSession(null))).catch(() => setSession(null));
    return api.onSessionChange((signedIn) => !signedIn && signOut());
  }, []);

  // Focus moves to the page's main region on navigation, so screen readers start at the new content.
  useEffect(() => {
    const main = document.getElementById("main");
    if (main) main.focus({ preventScroll: true });
    document.title = `Bwenge`;
  }, [location.path]);

  // Each page viewed, by its route (`/sessions/:id`, not the id): once signed in, and on every navigation.
  const signedIn = Boolean(session);
  useEffect(() => {
    const route = [...PUBLIC, ...ROUTES].find(([pattern]) => match(pattern, location.path));
    if (signedIn && route) track("page_viewed", { data: { path: route[0] } });
  }, [location.path, signedIn]);

  if (session === undefined) return html`<${Loading} />`;

  for (const [pattern, Page] of PUBLIC) {
    const params = match(pattern, location.path);
    if (params) {
      return html`<div class="public" onClick=${onLinkClick}>
        <main id="main" tabindex="-1"><${Page} ...${params} query=${location.query} onSignedIn=${signIn} /></main>
      </div>`;
    }
  }
  if (!session) {
    const next = location.path === "/" ? "" : `?next=${encodeURIComponent(location.path + window.location.search)}`;
    navigate(`/signin${next}`, { replace: true });
    return null;
  }
  if (location.path === "/") {
    navigate(home(session.me.role), { replace: true });
    return null;
  }
  for (const [pattern, Page, min] of ROUTES) {
    const params = match(pattern, location.path);
    if (params) {
      const allowed = atLeast(session.me.role, min);
      return html`<${Session.Provider} value=${session}>
        <${Shell} session=${session}>
          ${allowed
            ? html`<${Page} key=${location.path} ...${params} query=${location.query} />`
            : html`<p role="alert">${t("errors.forbidden")}</p>`}
        <//>
      <//>`;
    }
  }
  return html`<${Session.Provider} value=${session}><${Shell} session=${session}>
    <h1>${t("errors.not_found_page")}</h1><p><a href=${home(session.me.role)}>${t("nav.home")}</a></p>
  <//><//>`;
}

render(html`<${App} />`, document.getElementById("app"));
