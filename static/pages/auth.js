// Signing in, creating a school (the first one on a fresh server), accepting an invitation.
import { html, useEffect, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { navigate } from "../lib/router.js";
import { ErrorNotice, Field, Notice } from "../components/ui.js";

const PASSWORD_HINT = () => t("auth.password_hint");

function afterSignIn(onSignedIn, query) {
  return onSignedIn().then(() => navigate(query && query.next && query.next.startsWith("/") ? query.next : "/"));
}

function useServerStatus() {
  const [status, setStatus] = useState(null);
  useEffect(() => {
    api.get("/auth/status").then(setStatus).catch(() => setStatus(null));
  }, []);
  return status;
}

export function SignIn({ onSignedIn, query }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const status = useServerStatus();
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.startSession("/auth/login", { email, password });
      await afterSignIn(onSignedIn, query);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card narrow">
    <h1>${t("auth.sign_in_title")}</h1>
    ${status && status.first_run && status.registration !== "closed"
      ? html`<${Notice}><p>${t("auth.first_run")}</p><p><a href="/register">${t("auth.create_first")}</a></p><//>`
      : null}
    <form onSubmit=${submit}>
      <${Field} label=${t("auth.email")} type="email" value=${email} onInput=${setEmail} required autocomplete="email" />
      <${Field} label=${t("auth.password")} type="password" value=${password} onInput=${setPassword} required
        autocomplete="current-password" />
      <${ErrorNotice} error=${error} />
      <button class="primary" type="submit" disabled=${busy}>${t("auth.sign_in")}</button>
    </form>
    ${status && status.registration === "open"
      ? html`<p class="muted">${t("auth.no_account")} <a href="/register">${t("auth.register_link")}</a></p>`
      : null}
  </section>`;
}

export function Register({ onSignedIn, query }) {
  const [form, setForm] = useState({ org_name: "", name: "", email: "", password: "" });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const status = useServerStatus();
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.startSession("/auth/register", form);
      await afterSignIn(onSignedIn, query);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const closed = status && (status.registration === "closed" || (!status.first_run && status.registration !== "open"));
  return html`<section class="card narrow">
    <h1>${status && status.first_run ? t("auth.first_title") : t("auth.register_title")}</h1>
    ${closed
      ? html`<${Notice} kind="warning"><p>${t("errors.registration_closed")}</p><//>`
      : html`<form onSubmit=${submit}>
          <${Field} label=${t("auth.org_name")} value=${form.org_name} onInput=${set("org_name")} required
            maxlength="200" autocomplete="organization" />
          <${Field} label=${t("auth.your_name")} value=${form.name} onInput=${set("name")} required maxlength="200"
            autocomplete="name" />
          <${Field} label=${t("auth.email")} type="email" value=${form.email} onInput=${set("email")} required
            autocomplete="email" />
          <${Field} label=${t("auth.password")} type="password" value=${form.password} onInput=${set("password")}
            required minlength="10" maxlength="256" autocomplete="new-password" hint=${PASSWORD_HINT()} />
          <${ErrorNotice} error=${error} />
          <button class="primary" type="submit" disabled=${busy}>${t("auth.create_school")}</button>
        </form>`}
    <p class="muted">${t("auth.have_account")} <a href="/signin">${t("auth.sign_in")}</a></p>
  </section>`;
}

export function AcceptInvitation({ token, onSignedIn }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.startSession(`/invitations/${encodeURIComponent(token)}/accept`, { name, password });
      await afterSignIn(onSignedIn, {});
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card narrow">
    <h1>${t("auth.accept_title")}</h1>
    <p>${t("auth.accept_intro")}</p>
    <form onSubmit=${submit}>
      <${Field} label=${t("auth.your_name")} value=${name} onInput=${setName} required maxlength="200"
        autocomplete="name" />
      <${Field} label=${t("auth.password")} type="password" value=${password} onInput=${setPassword} required
        minlength="10" maxlength="256" autocomplete="new-password" hint=${PASSWORD_HINT()} />
      <${ErrorNotice} error=${error} />
      <button class="primary" type="submit" disabled=${busy}>${t("auth.accept")}</button>
    </form>
  </section>`;
}
