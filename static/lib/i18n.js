// Every string the app shows comes from one catalog per language; a second language is one more file in i18n/.
import en from "../i18n/en.js";

const catalogs = { en };
let current = en;

/** Picks the catalog for the browser's language, English when there is none. */
export function chooseLanguage(languages = navigator.languages || [navigator.language]) {
  for (const tag of languages) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (catalogs[base]) {
      current = catalogs[base];
      document.documentElement.lang = base;
      return base;
    }
  }
  current = en;
  return "en";
}

/** The string for `key`, with `{name}` placeholders filled from `vars`. A missing key shows itself, so it is seen. */
export function t(key, vars = {}) {
  const text = key.split(".").reduce((node, part) => (node == null ? undefined : node[part]), current);
  const template = typeof text === "string" ? text : key;
  return template.replace(/\{(\w+)\}/g, (_, name) => (vars[name] == null ? `{${name}}` : String(vars[name])));
}
