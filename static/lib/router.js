// Paths, not fragments: the server answers every non-API path with the app, so a link can be shared and reloaded.
import { useEffect, useState } from "./html.js";

const listeners = new Set();

export function navigate(to, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  for (const listener of listeners) listener();
  window.scrollTo(0, 0);
}

addEventListener("popstate", () => listeners.forEach((listener) => listener()));

/** The current location; re-renders on navigation. */
export function useLocation() {
  const [location, setLocation] = useState(() => ({ path: window.location.pathname, query: readQuery() }));
  useEffect(() => {
    const update = () => setLocation({ path: window.location.pathname, query: readQuery() });
    listeners.add(update);
    return () => listeners.delete(update);
  }, []);
  return location;
}

function readQuery() {
  return Object.fromEntries(new URLSearchParams(window.location.search));
}

/** `/collections/:id` against `/collections/42` gives `{id: "42"}`; no match gives null. */
export function match(pattern, path) {
  const want = pattern.split("/").filter(Boolean);
  const have = path.split("/").filter(Boolean);
  if (want.length !== have.length) return null;
  const params = {};
  for (let i = 0; i < want.length; i += 1) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(have[i]);
    else if (want[i] !== have[i]) return null;
  }
  return params;
}

/** Links that navigate inside the app without a reload (a plain <a>, so they work with the keyboard). */
export function onLinkClick(event) {
  const anchor = event.target.closest && event.target.closest("a[href^='/']");
  if (!anchor || event.ctrlKey || event.metaKey || event.shiftKey || anchor.target) return;
  event.preventDefault();
  navigate(anchor.getAttribute("href"));
}
