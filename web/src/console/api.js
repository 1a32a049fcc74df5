// The console is a client of the public API: same origin, the session cookie, the CSRF token on every
// state-changing request, Accept-Language for the server's messages.
import { CATALOGUES, has, lang, t } from "./i18n.js";

let csrf = null;
// an integrator's pasted bearer token (instead of a password): kept for this tab only, sent as a header
const TOKEN_KEY = "callguard.token";
let token = (() => {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
})();

export function setToken(value) {
  token = value || null;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* not kept */
  }
}

// why the server ended the live stream -> the error code the sign-in form explains
const ENDED_BECAUSE = { "user.deactivated": "user-deactivated", "token.revoked": "token-revoked",
  "token.expired": "token-expired", "user.changed": "session-ended", "session.rechecked": "session-ended" };
const listeners = new Set();

export function setCsrf(token) {
  csrf = token;
}

/** Called with the error when the session is gone (401): the app shows the sign-in form. */
export function onSessionLost(fn) {
  listeners.add(fn);
}

export class ApiError extends Error {
  constructor(status, body, language) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "internal-error";
    this.details = err.details || {};
    this.serverMessage = err.message || "";
    this.messages = err.messages || {}; // the server's message in each language
    this.language = language; // Content-Language of the answer: whether the server spoke the user's language
  }

  /** The text to show: the server's message when it answered in the user's language, else ours by code. */
  text() {
    // the server's words in the user's language: every error's own, or a gate refusal's explanation
    for (const worded of [this.details.messages, this.messages]) {
      if (worded && typeof worded[lang()] === "string") return worded[lang()];
    }
    if (this.serverMessage && this.language && this.language.toLowerCase() === lang().toLowerCase()) {
      return this.serverMessage;
    }
    const key = `err.${this.code}`;
    if (has(key) || key in CATALOGUES.en) return t(key, { s: this.details.retry_after_s ?? "" });
    return this.serverMessage || t("error.generic", { code: this.code });
  }
}

/** The JSON answer of ``method path``; ``withLanguage``: [answer, its Content-Language] (whose words it uses). */
export async function api(method, path, body, { withLanguage = false } = {}) {
  const headers = { Accept: "application/json", "Accept-Language": lang() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { error: { code: "network", message: t("error.network") } }, lang());
  }
  if (resp.status === 204) return withLanguage ? [null, null] : null;
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    const err = new ApiError(resp.status, data, resp.headers.get("Content-Language"));
    if (resp.status === 401 && token) setToken(null);
    if (resp.status === 401 && path !== "/v1/session") listeners.forEach((fn) => fn(err));
    throw err;
  }
  return withLanguage ? [data, resp.headers.get("Content-Language")] : data;
}

/**
 * The live event stream: a single-use ticket per connection (EventSource sends no headers), reconnecting
 * with a fresh ticket and a capped backoff. ``onEvent(type, event)``; ``onStatus(connected)``.
 */
export function liveEvents(types, onEvent, onStatus) {
  let source = null;
  let stopped = false;
  let delay = 500;
  let timer = null;

  async function connect() {
    if (stopped) return;
    let ticket;
    try {
      ticket = (await api("POST", "/v1/events/tickets")).ticket;
    } catch (err) {
      onStatus(false);
      if (err.status === 401) return; // the session is gone: the app signs out
      timer = setTimeout(connect, (delay = Math.min(delay * 2, 10000)));
      return;
    }
    const q = new URLSearchParams({ ticket, types: types.join(",") });
    source = new EventSource(`/v1/events?${q}`);
    source.addEventListener("hello", () => {
      delay = 500;
      onStatus(true);
    });
    source.onmessage = () => {};
    source.onerror = () => {
      source.close();
      onStatus(false);
      if (!stopped) timer = setTimeout(connect, (delay = Math.min(delay * 2, 10000)));
    };
    const handler = (e) => onEvent(e.type, JSON.parse(e.data));
    for (const name of ["call.requested", "call.agent_ringing", "call.agent_answered", "call.customer_ringing",
      "call.answered", "call.ended", "call.blocked", "call.corrected", "agent.state_changed"]) {
      source.addEventListener(name, handler);
    }
    source.addEventListener("session.ended", (e) => {
      stopped = true;
      source.close();
      const reason = (() => {
        try {
          return JSON.parse(e.data).reason;
        } catch {
          return "";
        }
      })();
      const code = ENDED_BECAUSE[reason] || "session-ended";
      listeners.forEach((fn) => fn(new ApiError(401, { error: { code } }, null)));
    });
  }

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (source) source.close();
  };
}
