// The admin's plan and billing page: the plan in force and how it is paid, usage against each of its limits, the
// plans side by side (bought through Stripe Checkout) and the way to Stripe's Customer Portal. A server that takes
// no payments says who sets plans instead. Stripe sends the admin back here with `?checkout=done|cancelled`.
import { html, useEffect, useState } from "../lib/html.js";
import * as api from "../lib/api.js";
import { t } from "../lib/i18n.js";
import { count, day, size } from "../lib/format.js";
import { QUOTAS, limitText, planName } from "../lib/errors.js";
import { useSession } from "../lib/session.js";
import { ErrorNotice, Loading, Notice, useLoad } from "../components/ui.js";

const RANK = ["free", "basic", "pro", "enterprise"];
const rank = (plan) => RANK.indexOf(plan);
// Stripe's states of a subscription that is over (or never began): a new Checkout starts another. In any other
// state the subscription runs, and its plan changes in the Portal (a second Checkout would bill twice).
const ENDED = ["canceled", "incomplete", "incomplete_expired"];
const STATUS_BADGE = { active: "ready", trialing: "ready", canceled: "failed", incomplete_expired: "failed" };
// After Checkout, Stripe's word (its webhook) may reach the server a moment after the browser: look again.
const RECHECK_MS = 3000;
const RECHECKS = 5;

/** Sends the browser to the address Stripe gave (Checkout or the Portal). */
function leave(url) {
  if (typeof url !== "string" || !/^https?:\/\//.test(url)) {
    throw new api.ApiError(502, { error: { code: "payment_provider_error" } });
  }
  window.location.assign(url);
}

function monthName(month) {
  const [year, number] = String(month).split("-").map(Number);
  if (!year || !number) return month;
  return new Date(year, number - 1, 1)
    .toLocaleDateString(document.documentElement.lang || undefined, { month: "long", year: "numeric" });
}

export function Billing({ query }) {
  const { me } = useSession();
  const subscription = useLoad(() => api.get("/billing/subscription"), []);
  const plans = useLoad(() => api.get("/billing/plans"), []);
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState({ at: null, error: null });

  useEffect(() => {
    if (query.checkout !== "done") return undefined;
    let left = RECHECKS;
    const timer = setInterval(() => {
      subscription.reload();
      left -= 1;
      if (left <= 0) clearInterval(timer);
    }, RECHECK_MS);
    return () => clearInterval(timer);
  }, [query.checkout]);

  // Back from Stripe with the browser's Back button: the page may come back as it was left, buttons disabled.
  useEffect(() => {
    const shown = (event) => event.persisted && setBusy(false);
    addEventListener("pageshow", shown);
    return () => removeEventListener("pageshow", shown);
  }, []);

  /** Asks the server for a Stripe page and goes there; the buttons stay disabled while the page leaves. */
  const open = (at, path, body) => async () => {
    setBusy(true);
    setFailed({ at: null, error: null });
    try {
      leave((await api.post(path, body)).url);
    } catch (error) {
      setFailed({ at, error });
      setBusy(false);
    }
  };

  const s = subscription.data;
  return html`<section class="billing">
    <h1>${t("billing.title")}</h1>
    ${query.checkout === "done" && html`<${Notice} kind="success"><p>${t("billing.done")}</p><//>`}
    ${query.checkout === "cancelled" && html`<${Notice}><p>${t("billing.cancelled")}</p><//>`}
    <${ErrorNotice} error=${subscription.error || plans.error} />
    ${subscription.loading && !s ? html`<${Loading} />` : null}
    ${s && html`<${Standing} s=${s} orgId=${me.org.id} busy=${busy} onManage=${open("portal", "/billing/portal", {})}
      error=${failed.at === "portal" ? failed.error : null} />`}
    ${s && html`<${Usage} usage=${s.usage} />`}
    ${s && plans.data && html`<${Plans} plans=${plans.data} s=${s} busy=${busy}
      onChoose=${(plan) => open("checkout", "/billing/checkout", { plan })()}
      error=${failed.at === "checkout" ? failed.error : null} />`}
    <p class="muted" role="status">${busy ? t("billing.opening") : ""}</p>
  </section>`;
}

/** The plan in force, how it stands with Stripe, and the way to manage it. */
function Standing({ s, orgId, busy, onManage, error }) {
  const subscribed = planName(s.subscribed_plan);
  const status = t(`billing.states.${s.status}`);
  const badge = s.lapsed ? "failed" : STATUS_BADGE[s.status] || "warning";
  return html`
    ${s.lapsed && html`<${Notice} kind="warning"><p><strong>${t("billing.lapsed", { plan: subscribed })}</strong></p><//>`}
    ${!s.lapsed && s.status === "past_due" && html`<${Notice} kind="warning"><p><strong>${s.grace_until
      ? t("billing.past_due", { plan: subscribed, date: day(s.grace_until) })
      : t("billing.past_due_soon", { plan: subscribed })}</strong></p><//>`}
    <section class="card" aria-labelledby="billing-current">
      <h2 id="billing-current">${t("billing.current")}</h2>
      <p class="plan-name">${planName(s.plan)}</p>
      <dl class="facts">
        <div><dt>${t("billing.status")}</dt>
          <dd><span class=${`badge ${badge}`}>${status.startsWith("billing.") ? s.status : status}</span></dd></div>
        ${s.subscribed_plan !== s.plan &&
        html`<div><dt>${t("billing.subscribed")}</dt><dd>${subscribed}</dd></div>`}
        ${s.current_period_end && html`<div><dt>${t(s.status === "canceled" ? "billing.ends" : "billing.renews")}</dt>
          <dd>${day(s.current_period_end)}</dd></div>`}
      </dl>
      ${s.payments && s.has_customer &&
      html`<button type="button" class="primary" disabled=${busy} onClick=${onManage}>${t("billing.manage")}</button>`}
      ${!s.payments && html`<p class="muted">${t("billing.operator")}</p>
        <code class="command">bwenge plan set --org ${orgId} --plan pro</code>`}
      <${ErrorNotice} error=${error} />
    </section>`;
}

function Usage({ usage }) {
  const items = QUOTAS.map((quota) => usage.items.find((item) => item.quota === quota)).filter(Boolean);
  return html`<section class="card" aria-labelledby="billing-usage">
    <h2 id="billing-usage">${t("billing.usage")}</h2>
    <p class="muted small">${t("billing.usage_month", { month: monthName(usage.month) })}</p>
    <ul class="usage-list">${items.map((item) => html`<${UsageBar} key=${item.quota} item=${item} />`)}</ul>
  </section>`;
}

/** One limit: a bar that turns amber from 80% and red when full, always with words ("Limit reached"). */
function UsageBar({ item }) {
  const { quota, used, limit } = item;
  const amount = (n) => (quota === "storage_bytes" ? size(n) : count(n));
  const id = `usage-${quota}`;
  const label = html`<span id=${id}>${t(`billing.quota.${quota}`)}</span>`;
  if (limit < 0) {
    return html`<li class="usage">
      <div class="progress-label">${label}<span>${t("billing.unlimited_used", { used: amount(used) })}</span></div>
      <div class="progress-track" aria-hidden="true"></div>
    </li>`;
  }
  const percent = limit === 0 ? 100 : Math.min(100, (used / limit) * 100);
  const level = percent >= 100 ? "full" : percent >= 80 ? "nearly" : "";
  const text = t(`billing.used.${quota}`, { used: amount(used), limit: amount(limit) });
  return html`<li class=${`usage ${level}`}>
    <div class="progress-label">${label}<span>${text}</span></div>
    <div class="progress-track" role="progressbar" aria-labelledby=${id} aria-valuemin="0" aria-valuemax=${limit}
      aria-valuenow=${Math.min(used, limit)} aria-valuetext=${text}>
      <div class="progress-fill" style=${{ width: `${percent}%` }}></div>
    </div>
    ${level && html`<p class="usage-state small"><span aria-hidden="true">${level === "full" ? "■" : "▲"}</span>
      ${t(`billing.${level}`)}</p>`}
  </li>`;
}

/** Every plan's limits side by side; a plan for sale has its button while no running subscription is changed. */
function Plans({ plans, s, busy, onChoose, error }) {
  const running = s.has_customer && !ENDED.includes(s.status);
  return html`<section aria-labelledby="billing-plans">
    <h2 id="billing-plans">${t("billing.compare")}</h2>
    ${s.payments && running && html`<p class="muted">${t("billing.change_in_portal")}</p>`}
    <ul class="cards plans">
      ${plans.map((p) => {
        const yours = p.plan === s.plan;
        const name = planName(p.plan);
        const up = rank(p.plan) > rank(s.plan);
        return html`<li key=${p.plan} class=${`card plan ${yours ? "yours" : ""}`}>
          <h3>${name}${yours && html` <span class="badge ready">${t("billing.yours")}</span>`}</h3>
          <ul class="plan-limits">
            ${QUOTAS.map((q) => html`<li key=${q}>${p.limits[q] < 0
              ? t(`billing.unlimited_limit.${q}`)
              : limitText(q, p.limits[q])}</li>`)}
          </ul>
          ${s.payments && p.for_sale && !running && !yours &&
          html`<button type="button" class=${up ? "primary" : ""} disabled=${busy} onClick=${() => onChoose(p.plan)}>
            ${t(up ? "billing.upgrade" : "billing.choose", { plan: name })}</button>`}
          ${s.payments && !p.for_sale && !yours && p.plan !== "free" &&
          html`<p class="muted small">${t("billing.not_sold")}</p>`}
        </li>`;
      })}
    </ul>
    <${ErrorNotice} error=${error} />
  </section>`;
}
