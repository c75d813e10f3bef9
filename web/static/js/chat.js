// Chat: messages of our room and direct messages, a composer with a recipient.

import { $, h, keyed, timeOfDay } from "./dom.js";
import { MAIN, myRoom, roomName } from "./state.js";

export function chatItem(s, msg) {
  const me = s.you?.user_id;
  const to = msg.to_user ? (s.people.get(msg.to_user)?.name ?? "someone") : null;
  const who = msg.to_user
    ? `${msg.from.user_id === me ? "You" : msg.from.name} → ${msg.to_user === me ? "you" : to} (direct)`
    : msg.from.name;
  return h("li", { class: msg.to_user ? "msg direct" : "msg" },
    h("span", { class: "who", text: who }),
    msg.room && msg.room !== MAIN ? h("span", { class: "tag", text: roomName(s, msg.room) }) : null,
    h("time", { class: "when", datetime: new Date(msg.ts).toISOString(), text: timeOfDay(msg.ts) }),
    h("span", { class: "text", text: msg.text }));
}

export function setup(ctx) {
  const form = $("chat-form");
  const input = $("chat-input");
  const to = $("chat-to");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const data = { text };
    if (to.value) data.to_user = to.value;
    const ack = await ctx.send("chat:send", data);
    if (ack.ok) input.value = "";
    else ctx.notify(`Message not sent: ${ack.error?.message ?? "error"}`, "warn");
  });
  ctx.dm = (userId) => {
    renderRecipients(ctx.state);
    to.value = userId;
    ctx.openTab("chat");
    input.focus();
  };

  let last = 0;
  return function render(s) {
    renderRecipients(s);
    const list = $("chat");
    keyed(list, s.chat, (m) => m.id ?? m.seq, (m) => chatItem(s, m));
    if (s.chat.length !== last) {
      last = s.chat.length;
      list.lastElementChild?.scrollIntoView({ block: "nearest" });
      ctx.badge("chat");
    }
  };

  function renderRecipients(s) {
    const room = myRoom(s);
    const others = [...s.people.values()].filter((p) => p.user_id !== s.you?.user_id && p.room === room)
      .sort((a, b) => a.name.localeCompare(b.name));
    const chosen = to.value;
    keyed(to, [{ user_id: "", name: "Everyone" }, ...others], (p) => p.user_id,
      (p) => h("option", { value: p.user_id }),
      (el, p) => { el.textContent = p.user_id ? `${p.name} (direct)` : p.name; });
    to.value = others.some((p) => p.user_id === chosen) ? chosen : "";
  }
}
