// Invite links (to a class, or a recording's share link): the person gives a
// name, and the server trades the invite and the name for a token of their own.
//
// With `keep` (a localStorage key), the token is kept in this browser: opening
// the link again reuses it while it is valid, and once it has expired it is
// sent along with the name so the server renews the same identity. A name the
// server refuses is asked for again with its reason; "too many" answers are
// waited out (Retry-After) and tried again.

import { claimsOf } from "./connection.js";
import { $ } from "./dom.js";

const LATER_MS = 60 * 1000;
const MAX_WAITS = 30;

// Show the page's name form; resolves with the name given (null: "just watch", where offered).
function askName(setStatus, prompt, { prefill = "", problem = false, skip = false } = {}) {
  const form = $("name-form");
  form.hidden = false;
  const skipper = $("name-skip");
  if (skipper) skipper.hidden = !skip;
  setStatus(prompt, problem ? "error" : "");
  if (prefill) $("name-input").value = prefill;
  $("name-input").focus();
  return new Promise((resolve) => {
    const done = (name) => { form.hidden = true; resolve(name); };
    form.addEventListener("submit", (ev) => { ev.preventDefault(); done($("name-input").value.trim()); }, { once: true });
    if (skip) skipper.addEventListener("click", () => done(null), { once: true });
  });
}

function kept(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}

function keep(key, token) {
  try { localStorage.setItem(key, token); } catch { /* private mode: a new identity next time */ }
}

// POST the body to `url`, waiting out 429s; resolves with the answer or {error}.
async function redeem(url, body, setStatus) {
  for (let waits = 0; ; waits += 1) {
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await res.json();
    if (res.status !== 429 || waits >= MAX_WAITS) {
      return res.ok ? answer : { error: answer.error ?? { code: "error", message: "the invite could not be used" } };
    }
    const seconds = Number(res.headers.get("Retry-After")) || 1;
    setStatus(`Many people are joining. Trying again in ${seconds} s…`, "warn");
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}

// Resolves with a token for the invite, or throws the server's reason.
// `belongs(claims)` says whether a kept token is for this class or recording.
// `watchOnly` offers to go on without a name (a recording's guest, where its host allows it).
export async function redeemInvite(url, invite, { setStatus, prompt, key = "", belongs = () => false, watchOnly = false }) {
  const earlier = key ? kept(key) : null;
  const claims = earlier ? claimsOf(earlier) : null;
  const ours = Boolean(claims) && belongs(claims);
  if (ours && claims.exp * 1000 > Date.now() + LATER_MS) return earlier;
  let name = ours ? claims.name : "";
  let problem = "";
  let skip = watchOnly;
  for (;;) {
    const given = await askName(setStatus, problem || prompt, { prefill: name, problem: Boolean(problem), skip });
    const body = given === null ? { invite } : { invite, name: given, ...(ours ? { token: earlier } : {}) };
    const answer = await redeem(url, body, setStatus);
    if (answer.token) {
      if (key) keep(key, answer.token);
      return answer.token;
    }
    if (answer.error?.code === "name_required") {
      skip = false;
      problem = "This recording asks for your name to watch it.";
      continue;
    }
    name = given ?? "";
    if (answer.error?.code !== "bad_request") throw new Error(answer.error?.message ?? "the invite could not be used");
    problem = `Please choose another name: ${answer.error.message}`;
  }
}
