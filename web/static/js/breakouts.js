// Breakout rooms. Hosts and moderators plan rooms (assigning people by drag
// and drop or from a list), open them with a timer, broadcast, visit, extend
// and close; participants see their room and the countdown, ask for help,
// and pick a room themselves when the host lets them.

import { $, clock, h, keyed, setText } from "./dom.js";
import { MAIN, amStaff, isStaff, myRoom, roomName } from "./state.js";

function setupFromForm() {
  const data = { assignment: $("bo-assignment").value };
  const names = $("bo-names").value.split("\n").map((x) => x.trim()).filter(Boolean);
  if (names.length) data.rooms = names.map((name) => ({ name }));
  else data.count = Math.max(1, Number($("bo-count").value) || 1);
  const minutes = Number($("bo-minutes").value);
  if (minutes > 0) data.duration_s = Math.round(minutes * 60);
  const grace = $("bo-grace").value;
  if (grace !== "") data.grace_s = Math.max(0, Number(grace));
  return data;
}

export function countdown(b, now) {
  if (!b) return "";
  if (b.closes_at) return `Rooms close in ${clock(b.closes_at - now)}`;
  if (b.ends_at) return `Time left: ${clock(b.ends_at - now)}`;
  return "No time limit";
}

export function setup(ctx) {
  const send = async (event, data, done) => {
    const ack = await ctx.send(event, data);
    if (!ack.ok) ctx.notify(`Not done: ${ack.error?.message ?? "error"}`, "warn");
    else if (done) ctx.notify(done, "ok");
    return ack;
  };
  $("bo-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const action = ev.submitter?.value === "plan" ? "breakout:plan" : "breakout:open";
    send(action, setupFromForm(), action === "breakout:plan" ? "Plan saved" : "Breakout rooms are open");
  });
  $("bo-open-plan").addEventListener("click", () => send("breakout:open", {}, "Breakout rooms are open"));
  $("bo-discard").addEventListener("click", () => send("breakout:discard", {}, "Plan discarded"));
  $("bo-broadcast-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("bo-broadcast").value.trim();
    if (text && (await send("breakout:broadcast", { text })).ok) $("bo-broadcast").value = "";
  });
  $("bo-extend").addEventListener("click", () => send("breakout:extend", { seconds: 300 }, "Five more minutes"));
  $("bo-close").addEventListener("click", () => send("breakout:close", {}));
  $("bo-close-now").addEventListener("click", () => send("breakout:close", { grace_s: 0 }));
  $("bo-return").addEventListener("click", () => send("breakout:visit", { room_id: MAIN }));
  $("bo-help").addEventListener("click", () => send("breakout:help", {}, "A host has been asked to join your room."));
  $("bar-help").addEventListener("click", () => send("breakout:help", {}, "A host has been asked to join your room."));

  const assign = (userId, roomId) => send("breakout:assign", { user_id: userId, room_id: roomId });

  function chip(s, p) {
    const el = h("li", { class: "chip", draggable: true, text: p.name });
    el.addEventListener("dragstart", (ev) => { ev.dataTransfer.setData("text/x-user", p.user_id); });
    return el;
  }

  function dropZone(el, roomId) {
    el.addEventListener("dragover", (ev) => { ev.preventDefault(); el.classList.add("drop"); });
    el.addEventListener("dragleave", () => el.classList.remove("drop"));
    el.addEventListener("drop", (ev) => {
      ev.preventDefault();
      el.classList.remove("drop");
      const user = ev.dataTransfer.getData("text/x-user");
      if (user) assign(user, roomId);
    });
  }

  function roomBox(s, room, members, { staff, open }) {
    const here = myRoom(s) === room.id;
    const box = h("li", { class: here ? "room-box here" : "room-box" },
      h("h4", { text: room.name + (here ? " (you are here)" : "") }),
      h("ul", { class: "chips", "aria-label": `People in ${room.name}` }, members.map((p) => chip(s, p))),
      staff && open && !here ? h("button", { type: "button", class: "small", text: `Visit ${room.name}`,
        on: { click: () => send("breakout:visit", { room_id: room.id }) } }) : null,
      !staff && open && s.breakouts?.assignment === "self" && !here
        ? h("button", { type: "button", class: "small", text: `Join ${room.name}`,
          on: { click: () => send("breakout:choose", { room_id: room.id }) } }) : null);
    if (staff) dropZone(box, room.id);
    return box;
  }

  function assignList(s, rooms, where) {
    const learners = [...s.people.values()].filter((p) => !isStaff(p.role)).sort((a, b) => a.name.localeCompare(b.name));
    return learners.map((p) => {
      const id = `bo-assign-${p.user_id}`;
      const select = h("select", { id, on: { change: () => assign(p.user_id, select.value) } },
        s.breakouts ? h("option", { value: MAIN, text: "Main room" }) : h("option", { value: "", text: "Not assigned" }),
        rooms.map((r) => h("option", { value: r.id, text: r.name })));
      select.value = where(p) ?? (s.breakouts ? MAIN : "");
      return h("li", {}, h("label", { for: id, text: p.name }), " ", select);
    });
  }

  let lastSig = "";
  return function render(s) {
    const staff = amStaff(s);
    const b = s.breakouts;
    const now = ctx.now();
    const room = myRoom(s);
    // The bar over the video: where you are and how long is left.
    const bar = $("breakout-bar");
    bar.hidden = !b && room === MAIN;
    setText($("bar-room"), room === MAIN ? "Main room" : `You are in ${roomName(s, room)}`);
    setText($("bar-time"), countdown(b, now));
    $("bar-help").hidden = staff || room === MAIN;

    $("bo-plan-form").hidden = !staff || Boolean(b);
    $("bo-plan").hidden = !staff || Boolean(b) || !s.plan;
    $("bo-live").hidden = !b;
    $("bo-staff").hidden = !staff || !b;
    $("bo-learner").hidden = staff || !b;
    $("bo-none").hidden = Boolean(b) || staff;
    $("bo-return").hidden = !staff || room === MAIN;
    setText($("bo-countdown"), countdown(b, now));
    setText($("bo-where"), room === MAIN ? (b?.assignment === "self" ? "Choose a room to join." : "You are in the main room.")
      : `You are in ${roomName(s, room)}.`);
    $("bo-help").hidden = room === MAIN;

    // Structure changes only when people, rooms or assignments change (keeps drag and focus).
    const sig = JSON.stringify([staff, room, b?.rooms?.map((r) => r.id), b?.assignment, s.plan,
      [...s.people.values()].map((p) => [p.user_id, p.name, p.room, p.role])]);
    if (sig !== lastSig) {
      lastSig = sig;
      if (s.plan && !b) {
        const rooms = s.plan.rooms;
        const inRoom = (id) => [...s.people.values()].filter((p) => s.plan.assignments[p.user_id] === id);
        $("bo-plan-rooms").replaceChildren(...rooms.map((r) => roomBox(s, r, inRoom(r.id), { staff, open: false })));
        $("bo-plan-assign").replaceChildren(...assignList(s, rooms, (p) => s.plan.assignments[p.user_id]));
        setText($("bo-plan-summary"), `${rooms.length} rooms, ${s.plan.assignment} assignment`
          + (s.plan.duration_s ? `, ${Math.round(s.plan.duration_s / 60)} min` : ""));
      }
      if (b) {
        const inRoom = (id) => [...s.people.values()].filter((p) => p.room === id);
        $("bo-rooms").replaceChildren(...b.rooms.map((r) => roomBox(s, r, inRoom(r.id), { staff, open: true })));
        $("bo-live-assign").replaceChildren(...(staff ? assignList(s, b.rooms, (p) => p.room) : []));
      }
    }
    keyed($("bo-messages"), s.messages, (m) => m.seq ?? m.ts, (m) => h("li", {},
      h("span", { class: "who", text: m.from?.name ?? "Host" }), h("span", { class: "text", text: m.text })));
    keyed($("bo-help-list"), staff ? s.help : [], (x) => x.user_id, (x) => h("li", {},
      h("span", { text: `${x.name ?? s.people.get(x.user_id)?.name ?? "Someone"} asks for help in ${roomName(s, x.room_id)} ` }),
      h("button", { type: "button", class: "small", text: "Visit",
        on: { click: () => send("breakout:visit", { room_id: x.room_id }) } })));
  };
}
