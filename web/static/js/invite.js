// Invite links (to a class, or a recording's share link): the person gives a
// name, and the server trades the invite and the name for a token of their own.

import { $ } from "./dom.js";

// Show the page's name form; resolves with the name given.
function askName(setStatus, prompt) {
  const form = $("name-form");
  form.hidden = false;
  setStatus(prompt);
  $("name-input").focus();
  return new Promise((resolve) => {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      form.hidden = true;
      resolve($("name-input").value.trim());
    }, { once: true });
  });
}

// POST {invite, name} to `url`; resolves with the token, or throws the server's reason.
export async function redeemInvite(url, invite, { setStatus, prompt }) {
  const name = await askName(setStatus, prompt);
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ invite, name }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error?.message ?? "the invite could not be used");
  return body.token;
}
