// The deep-linking page: an instructor places a class (new or of the course)
// or a published replay. The server signs the answer for the course's
// platform; this page posts it there in a form, as LTI Deep Linking asks.
// The page's address holds the choice's id, which the server checks.

import { $, h } from "./dom.js";

const choiceId = decodeURIComponent(location.pathname.split("/").pop());
const api = `/lti/deep-link/${encodeURIComponent(choiceId)}`;

function setStatus(text, kind = "") {
  $("status").textContent = text;
  $("status").dataset.kind = kind;
}

async function jsonOf(res) {
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

// Sends the signed response to the platform: a form post that leaves this page.
function postBack(placed) {
  const form = h("form", { method: "post", action: placed.return_url, hidden: true },
    h("input", { type: "hidden", name: "JWT", value: placed.jwt }));
  document.body.append(form);
  form.submit();
}

async function place(choice) {
  for (const button of document.querySelectorAll("button")) button.disabled = true;
  setStatus("Placing it in the course…");
  try {
    const res = await fetch(api, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(choice),
    });
    postBack(await jsonOf(res));
  } catch (err) {
    setStatus(`It could not be placed: ${err.message}`, "error");
  }
}

function option(label, detail, choice) {
  return h("li", {},
    h("button", { type: "button", on: { click: () => place(choice) } }, label),
    detail ? h("span", { class: "muted" }, ` ${detail}`) : null);
}

async function main() {
  let options;
  try {
    options = await jsonOf(await fetch(`${api}/options`));
  } catch (err) {
    setStatus(`${err.message}`, "error");
    return;
  }
  $("course").textContent = options.course ? `Course: ${options.course}` : "";
  $("new-title").value = options.course ?? "";
  $("new-class").hidden = false;
  $("new-class").addEventListener("submit", (ev) => {
    ev.preventDefault();
    place({ kind: "new_class", title: $("new-title").value.trim() });
  });
  $("classes").append(...options.classes.map((c) => option(c.title, "", { kind: "class", id: c.id })));
  $("classes-box").hidden = options.classes.length === 0;
  $("replays").append(...options.replays.map((r) =>
    option(r.title, r.visibility === "private" ? "(not shared with learners yet)" : "", { kind: "replay", id: r.id })));
  $("replays-box").hidden = options.replays.length === 0;
  setStatus("Choose what to place.");
}

main();
