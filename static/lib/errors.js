// An API error in the reader's words: its code's catalog entry, or the server's own message. A plan's limit
// (`quota_exceeded`, HTTP 402) becomes a sentence from the error's details: which limit, how much, which plan.
import { t } from "./i18n.js";
import { count, size } from "./format.js";

export const QUOTAS = ["personas", "messages_per_month", "storage_bytes", "seats"];

/** A person-readable message for an API error (an ApiError, or a chat socket's error frame). */
export function errorMessage(error) {
  if (!error) return "";
  const code = error.code || "internal";
  if (code === "quota_exceeded") return quotaMessage(error.details);
  const known = t(`errors.${code}`);
  return known === `errors.${code}` ? error.message || t("errors.internal") : known;
}

/** A plan's name in words ("Free"), or as the server spelled it when the catalog does not know it. */
export function planName(plan) {
  const name = t(`billing.plans.${plan}`);
  return name === `billing.plans.${plan}` ? String(plan) : name;
}

/** How much of `quota` a `limit` is, in words: "3 tutors", "100 MB of material". */
export function limitText(quota, limit) {
  return t(`billing.limit.${quota}`, { n: quota === "storage_bytes" ? size(limit) : count(limit) });
}

/**
 * "Your school's Free plan allows 3 tutors and all are in use. An administrator can upgrade the plan." Details
 * missing (an older server) give a shorter sentence, never a wrong one.
 */
export function quotaMessage(details) {
  const d = details || {};
  const upgrade = t("errors.quota.upgrade");
  if (!QUOTAS.includes(d.quota)) return `${t("errors.quota_exceeded")} ${upgrade}`;
  if (typeof d.limit !== "number" || d.limit < 0 || !d.plan) return `${t(`errors.quota.reached.${d.quota}`)} ${upgrade}`;
  const sentence = t(`errors.quota.${d.quota}`, { plan: planName(d.plan), limit: limitText(d.quota, d.limit) });
  return `${sentence} ${upgrade}`;
}
