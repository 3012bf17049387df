// The one client every page uses: the access token lives in memory only; the refresh token is an HttpOnly cookie the
// server sets (scoped to /api/v1/auth/), so no script can read it. Tokens are refreshed quietly before they expire
// and once more when the server says one expired or was revoked.

const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && body.error) || {};
    super(detail.message || `HTTP ${status}`);
    this.status = status;
    this.code = detail.code || (status === 0 ? "network" : "internal");
    this.requestId = detail.request_id || null;
    // Facts some codes carry (`quota_exceeded`: which limit, how much is used, the limit, the plan).
    this.details = detail.details || null;
  }
}

const state = { token: null, expiresAt: 0, timer: null, listeners: new Set(), refreshing: null };

function notify() {
  for (const listener of state.listeners) listener(Boolean(state.token));
}

/** Calls `listener(signedIn)` whenever the session starts or ends. */
export function onSessionChange(listener) {
  state.listeners.add(listener);
  return () => state.listeners.delete(listener);
}

export function accessToken() {
  return state.token;
}

function adopt(tokens) {
  state.token = tokens.access_token;
  state.expiresAt = Date.now() + tokens.expires_in * 1000;
  clearTimeout(state.timer);
  // A minute early (or halfway for very short tokens): a page left open keeps working.
  const lead = Math.min(60_000, (tokens.expires_in * 1000) / 2);
  state.timer = setTimeout(() => refresh().catch(() => {}), Math.max(1000, tokens.expires_in * 1000 - lead));
  notify();
}

function forget() {
  state.token = null;
  state.expiresAt = 0;
  clearTimeout(state.timer);
  notify();
}

async function parse(response) {
  const type = response.headers.get("content-type") || "";
  if (response.status === 204) return null;
  return type.includes("application/json") ? response.json() : response.text();
}

// Every tab shares the cookie, and a refresh token works once: two tabs refreshing at the same moment would spend
// it twice, which the server takes for theft and ends the session. A lock across tabs orders them, so the second
// sends the cookie the first just received.
function oneTabAtATime(work) {
  return navigator.locks ? navigator.locks.request("bwenge-refresh", work) : work();
}

/** Trades the refresh cookie for a new access token (and a rotated cookie). One at a time. */
export function refresh() {
  if (!state.refreshing) {
    state.refreshing = oneTabAtATime(() => fetch(`${BASE}/auth/refresh`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: "{}",
    }))
      .then(async (response) => {
        const body = await parse(response).catch(() => null);
        if (!response.ok) {
          forget();
          throw new ApiError(response.status, body);
        }
        adopt(body);
        return body;
      })
      .finally(() => {
        state.refreshing = null;
      });
  }
  return state.refreshing;
}

/** Signs the page in again after a reload, from the cookie; false when there is no live session. */
export async function restore() {
  try {
    await refresh();
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends one request with the access token; a token that expired meanwhile is refreshed and the request sent once
 * more. Resolves to the response when it is a success; rejects with an ApiError otherwise. `keepalive` lets a
 * small request outlive the page (events sent as the tab is hidden).
 */
async function send(method, path, body, { retry = true, accept = "application/json", keepalive = false } = {}) {
  const headers = { accept };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(`${BASE}${path}`, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
      keepalive,
    });
  } catch {
    throw new ApiError(0, { error: { code: "network", message: "the server could not be reached" } });
  }
  if (response.ok) return response;
  const error = new ApiError(response.status, await parse(response).catch(() => null));
  if (retry && response.status === 401 && ["token_expired", "token_revoked"].includes(error.code)) {
    await refresh();
    return send(method, path, body, { retry: false, accept, keepalive });
  }
  if (response.status === 401 && !path.startsWith("/auth/")) forget();
  throw error;
}

export async function request(method, path, body, options = {}) {
  const response = await send(method, path, body, options);
  return parse(response).catch(() => null);
}

/**
 * A GET whose answer is a file rather than JSON (a report as CSV or HTML): resolves to a Blob of the type the
 * server sent, through the same token and error handling as every other request.
 */
export async function fetchBlob(path, accept = "*/*") {
  const response = await send("GET", path, undefined, { accept });
  return response.blob();
}

export const get = (path) => request("GET", path);
export const post = (path, body = {}) => request("POST", path, body);
export const patch = (path, body) => request("PATCH", path, body);
export const put = (path, body) => request("PUT", path, body);
export const del = (path) => request("DELETE", path);

/** Signs in (or up, or accepts an invitation): the refresh token goes into the cookie, never into this page. */
export async function startSession(path, body) {
  const tokens = await request("POST", path, { ...body, refresh_in_cookie: true }, { retry: false });
  adopt(tokens);
  return tokens;
}

export async function signOut() {
  try {
    await request("POST", "/auth/logout", {}, { retry: false });
  } finally {
    forget();
  }
}

/** Sends a multipart form with progress: `onProgress(fraction)` as bytes leave the browser. */
function sendForm(path, form, expected, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${BASE}${path}`);
    if (state.token) xhr.setRequestHeader("authorization", `Bearer ${state.token}`);
    xhr.responseType = "json";
    xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    xhr.onload = () => (xhr.status === expected ? resolve(xhr.response) : reject(new ApiError(xhr.status, xhr.response)));
    xhr.onerror = () => reject(new ApiError(0, { error: { code: "network", message: "the upload broke off" } }));
    xhr.send(form);
  });
}

/**
 * Uploads one file with progress: `onProgress(fraction)` as bytes leave the browser. Resolves to the queued
 * document, rejects with an ApiError.
 */
export function upload(collectionId, file, onProgress) {
  const form = new FormData();
  form.append("file", file, file.name);
  return sendForm(`/collections/${collectionId}/documents`, form, 202, onProgress);
}

/** Uploads an avatar model (`name` optional) with progress. Resolves to the stored avatar. */
export function uploadAvatar(file, name, onProgress) {
  const form = new FormData();
  form.append("file", file, file.name);
  if (name) form.append("name", name);
  return sendForm("/avatars", form, 201, onProgress);
}
