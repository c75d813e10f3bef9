// Participants: raised hands first, then staff, then everyone else; host and
// moderator actions on each person (mute, lower hand, move to a breakout room,
// make moderator), and a direct message shortcut.

import { $, h, keyed, setText } from "./dom.js";
import { MAIN, amStaff, isMuted, isStaff, peopleInOrder, roomName } from "./state.js";

const ROLE_LABEL = { host: "Host", moderator: "Moderator", participant: "" };

export function setup(ctx) {
  const hand = $("hand");
  hand.addEventListener("click", async () => {
    const raised = ctx.state.hands.has(ctx.state.you?.user_id);
    const ack = await ctx.send(raised ? "hand:lower" : "hand:raise", {});
    if (!ack.ok) ctx.notify(ack.error?.message ?? "Could not change your hand", "warn");
  });
  const lock = $("lock-publish");
  lock.addEventListener("change", async () => {
    const ack = await ctx.send("class:lock", { publish: !lock.checked });
    if (!ack.ok) ctx.notify(ack.error?.message ?? "Could not change the setting", "warn");
  });

  async function act(event, data, done) {
    const ack = await ctx.send(event, data);
    ctx.notify(ack.ok ? done : `Not done: ${ack.error?.message ?? "error"}`, ack.ok ? "ok" : "warn");
  }

  function create(p) {
    const row = h("li", { class: "person" },
      h("span", { class: "hand tag" }),
      h("span", { class: "name" }),
      h("span", { class: "role tag" }),
      h("span", { class: "room tag" }),
      h("span", { class: "mic tag" }),
      h("div", { class: "actions" }));
    return row;
  }

  function actions(s, p) {
    const me = s.you;
    if (!me || p.user_id === me.user_id) return [];
    const out = [h("button", { type: "button", class: "small", "aria-label": `Message ${p.name}`,
      on: { click: () => ctx.dm(p.user_id) }, text: "Message" })];
    if (!amStaff(s)) return out;
    if (s.hands.has(p.user_id)) {
      out.push(h("button", { type: "button", class: "small", "aria-label": `Lower ${p.name}'s hand`,
        on: { click: () => act("hand:lower", { user_id: p.user_id }, `Lowered ${p.name}'s hand`) }, text: "Lower hand" }));
    }
    if (ctx.media.sends(s, p.user_id, "mic") && !isMuted(s, p.user_id, "mic")) {
      out.push(h("button", { type: "button", class: "small", "aria-label": `Mute ${p.name}`,
        on: { click: () => act("rtc:mute_user", { user_id: p.user_id, source: "mic" }, `Muted ${p.name}`) }, text: "Mute" }));
    }
    if (me.role === "host" && p.role !== "host") {
      const next = p.role === "moderator" ? "participant" : "moderator";
      out.push(h("button", { type: "button", class: "small",
        "aria-label": next === "moderator" ? `Make ${p.name} a moderator` : `Make ${p.name} a participant`,
        on: { click: () => act("participant:set_role", { user_id: p.user_id, role: next }, `${p.name} is now a ${next}`) },
        text: next === "moderator" ? "Make moderator" : "Remove moderator" }));
    }
    if (me.role === "host" && p.role !== "host") {
      const on = !s.slides.presenters.has(p.user_id);
      out.push(h("button", { type: "button", class: "small",
        on: { click: () => act("slides:presenter", { user_id: p.user_id, on }, on ? `${p.name} may present` : `${p.name} no longer presents`) },
        text: on ? "Make presenter" : "Stop presenting" }));
    }
    const rooms = s.breakouts?.rooms ?? s.plan?.rooms ?? [];
    if (rooms.length && !isStaff(p.role)) {
      const id = `move-${p.user_id}`;
      const select = h("select", { id, on: { change: () => {
        if (select.value) act("breakout:assign", { user_id: p.user_id, room_id: select.value }, `Moved ${p.name}`);
      } } },
      h("option", { value: "", text: "Move to…" }),
      s.breakouts ? h("option", { value: MAIN, text: "Main room" }) : null,
      rooms.map((r) => h("option", { value: r.id, text: r.name })));
      out.push(h("label", { class: "sr-only", for: id, text: `Move ${p.name} to a room` }), select);
    }
    return out;
  }

  return function render(s) {
    const staff = amStaff(s);
    $("lock-row").hidden = !staff;
    lock.checked = !s.locks.publish;
    const raised = s.hands.has(s.you?.user_id);
    setText(hand, raised ? "Lower hand" : "Raise hand");
    setText($("people-count"), String(s.people.size));
    const list = $("participants");
    keyed(list, peopleInOrder(s), (p) => p.user_id, create, (row, p) => {
      const mine = p.user_id === s.you?.user_id;
      const raisedHand = s.hands.has(p.user_id);
      row.classList.toggle("raised", raisedHand);
      setText(row.querySelector(".hand"), raisedHand ? "Hand raised" : "");
      setText(row.querySelector(".name"), mine ? `${p.name} (you)` : p.name);
      const presenter = s.slides.presenters.has(p.user_id) ? "Presenter" : "";
      setText(row.querySelector(".role"), [ROLE_LABEL[p.role], presenter].filter(Boolean).join(", "));
      setText(row.querySelector(".room"), p.room && p.room !== MAIN ? roomName(s, p.room) : "");
      const micOff = isMuted(s, p.user_id, "mic");
      setText(row.querySelector(".mic"), micOff ? "Muted" : "");
      // Rebuild the action buttons only when what they offer changes (keeps focus).
      const sig = JSON.stringify([staff, s.you?.role, p.role, raisedHand, micOff, p.room, s.slides.presenters.has(p.user_id),
        ctx.media.sends(s, p.user_id, "mic"),
        (s.breakouts?.rooms ?? s.plan?.rooms ?? []).map((r) => r.id)]);
      const box = row.querySelector(".actions");
      if (box.dataset.sig !== sig) {
        box.dataset.sig = sig;
        box.replaceChildren(...actions(s, p));
      }
    });
  };
}
