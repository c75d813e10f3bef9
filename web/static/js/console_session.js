// The console's credential and its calls to the REST API. The credential (the
// admin key, or an organizer token) is kept in this tab's sessionStorage and
// sent as a bearer header: it never goes in a URL.

import { claimsOf } from "./connection.js";
import { $, h } from "./dom.js";

const KEY = "console-credential";
const CONFIRM_MS = 5000;

export const session = { credential: null, organizer: null };

// An organizer token names its holder; anything else is taken for the admin key.
function organizerOf(credential) {
  const claims = credential.split(".").length === 3 ? claimsOf(credential) : null;
  return claims && claims.org ? { user_id: claims.sub, name: claims.name } : null;
}

export function remembered() {
  return sessionStorage.getItem(KEY);
}

export function remember(credential) {
  session.credential = credential;
  session.organizer = organizerOf(credential);
  sessionStorage.setItem(KEY, credential);
}

export function forget() {
  session.credential = session.organizer = null;
  sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function request(path, { method = "GET", body, query } = {}) {
  const url = query ? `${path}?${new URLSearchParams(query)}` : path;
  const headers = { Authorization: `Bearer ${session.credential}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try { message = (await res.json()).error.message; } catch { /* not JSON */ }
    throw new ApiError(res.status, message);
  }
  return res;
}

// JSON from the API; an ApiError with the server's message otherwise.
export async function api(path, options) {
  return (await request(path, options)).json();
}

// Save what the API answers as a file (exports need the bearer header, so no plain link).
export async function download(path, filename, options) {
  const blob = await (await request(path, options)).blob();
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function setStatus(text, kind = "") {
  $("status").textContent = text;
  $("status").dataset.kind = kind;
}

// Run an action from a button: its failure is said in the status line, never thrown away.
export function acting(fn) {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (err) {
      setStatus(err.message, "error");
      if (err instanceof ApiError && err.status === 401) document.dispatchEvent(new Event("console:signed-out"));
    }
  };
}

// A link shown in a read-only field, and copied to the clipboard where the page may.
export async function offerLink(field, link, what) {
  field.hidden = false;
  field.value = link;
  field.select();
  try {
    await navigator.clipboard.writeText(link);
    setStatus(`${what} copied.`);
  } catch {
    setStatus(`${what} is selected: copy it.`);
  }
}

// A destructive action takes two clicks: the first asks, a second within a few seconds does it.
export function confirmed(button, question) {
  if (button.dataset.confirm) return true;
  const label = button.textContent;
  button.dataset.confirm = "1";
  button.textContent = question;
  setTimeout(() => { delete button.dataset.confirm; button.textContent = label; }, CONFIRM_MS);
  return false;
}

export function when(ts, timeZone) {
  const options = { dateStyle: "medium", timeStyle: "short" };
  if (timeZone) options.timeZone = timeZone;
  return new Intl.DateTimeFormat([], options).format(new Date(ts));
}

// A file name from a title.
export function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "class";
}
