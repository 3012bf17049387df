// The number of unread safety alerts, for the badge beside the Alerts link: asked every 30 seconds while the page
// is visible, and at once when someone reads alerts (`alertsChanged()`).
import { useEffect, useState } from "./html.js";
import * as api from "./api.js";

const EVERY_MS = 30_000;
const listeners = new Set();

/** Tells every badge to ask again (after an alert was marked read). */
export function alertsChanged() {
  for (const listener of listeners) listener();
}

/** The unread count, or null until known (or when it cannot be asked). */
export function useUnreadAlerts(enabled = true) {
  const [unread, setUnread] = useState(null);
  useEffect(() => {
    if (!enabled) return undefined;
    let live = true;
    const ask = () => {
      if (document.visibilityState === "hidden") return;
      api.get("/alerts/summary").then((s) => live && setUnread(s.unread), () => live && setUnread(null));
    };
    ask();
    const timer = setInterval(ask, EVERY_MS);
    const onVisible = () => document.visibilityState === "visible" && ask();
    document.addEventListener("visibilitychange", onVisible);
    listeners.add(ask);
    return () => {
      live = false;
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisible);
      listeners.delete(ask);
    };
  }, [enabled]);
  return unread;
}
