import { t } from "./i18n.js";

export function bytes(n) {
  if (n < 1024) return t("format.bytes", { n });
  if (n < 1024 * 1024) return t("format.kib", { n: (n / 1024).toFixed(1) });
  return t("format.mib", { n: (n / 1024 / 1024).toFixed(1) });
}

/** A whole number for reading, grouped the catalog's way: 1,000. */
export function count(n) {
  return Number(n).toLocaleString(document.documentElement.lang || undefined);
}

/** A size rounded for reading, without a needless decimal: 412 MB, 1 GB, 1.5 GB (plan limits and usage). */
export function size(n) {
  for (const [key, unit] of [["format.gib", 1024 ** 3], ["format.mib", 1024 ** 2], ["format.kib", 1024]]) {
    if (n >= unit) return t(key, { n: count(Math.round((n / unit) * 10) / 10) });
  }
  return t("format.bytes", { n: count(n) });
}

/** The day alone, for dates where the hour is noise (a renewal, the end of a grace period). */
export function day(iso) {
  return iso ? new Date(iso).toLocaleDateString(document.documentElement.lang || undefined, { dateStyle: "long" }) : "";
}

export function dateTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

export function clock(ms) {
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** Where a citation points: page, slide or time. */
export function place(citation) {
  if (citation.page != null) return t("viewer.page", { n: citation.page });
  if (citation.slide != null) return t("viewer.slide", { n: citation.slide });
  if (citation.start_ms != null) return t("viewer.at", { time: clock(citation.start_ms) });
  return "";
}
