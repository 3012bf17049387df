import { t } from "./i18n.js";

export function bytes(n) {
  if (n < 1024) return t("format.bytes", { n });
  if (n < 1024 * 1024) return t("format.kib", { n: (n / 1024).toFixed(1) });
  return t("format.mib", { n: (n / 1024 / 1024).toFixed(1) });
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
