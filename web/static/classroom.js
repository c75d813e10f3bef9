// The classroom page: joins with the token from the URL fragment, keeps the
// class state in step with the server's events, and catches up after a
// reconnect with last_seq. User text only ever reaches the page via textContent.

const $ = (id) => document.getElementById(id);
const classId = location.pathname.split("/").pop();
const params = new URLSearchParams(location.hash.slice(1));
const state = { seq: 0, you: null, participants: new Map(), hands: new Set() };

function setStatus(text) { $("status").textContent = text; }

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement("script");
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(el);
  });
}

async function tokenFromInvite(invite) {
  const form = $("name-form");
  form.hidden = false;
  setStatus("Enter your name to join.");
  const name = await new Promise((resolve) => {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      resolve($("name-input").value.trim());
    }, { once: true });
  });
  form.hidden = true;
  const res = await fetch(`/api/classes/${encodeURIComponent(classId)}/join`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ invite, name }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error?.message ?? "could not join");
  history.replaceState(null, "", `#token=${body.token}`);
  return body.token;
}

function renderParticipants() {
  const list = $("participants");
  const people = [...state.participants.values()].sort(
    (a, b) => Number(state.hands.has(b.user_id)) - Number(state.hands.has(a.user_id)));
  list.replaceChildren(...people.map((p) => {
    const li = document.createElement("li");
    li.textContent = `${state.hands.has(p.user_id) ? "✋ " : ""}${p.name} (${p.role})`;
    return li;
  }));
  const raised = state.you && state.hands.has(state.you.user_id);
  $("hand").textContent = raised ? "Lower hand" : "Raise hand";
  $("hand").setAttribute("aria-pressed", String(Boolean(raised)));
}

function addChat(msg) {
  const li = document.createElement("li");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = msg.to_user ? `${msg.from.name} (direct)` : msg.from.name;
  const text = document.createElement("span");
  text.textContent = msg.text;
  li.append(who, text);
  $("chat").append(li);
  li.scrollIntoView({ block: "end" });
}

// Journal events carry seq; anything at or below what we hold is a duplicate.
function fresh(ev) {
  if (typeof ev.seq !== "number") return true;
  if (ev.seq <= state.seq) return false;
  state.seq = ev.seq;
  return true;
}

function connect(token, wire) {
  const socket = io({
    transports: ["websocket"],
    auth: (cb) => cb(state.seq ? { token, last_seq: state.seq } : { token }),
  });
  socket.on("connect_error", (err) => {
    const code = err.data?.code;
    if (code === "unauthorized") { setStatus(`Cannot join: ${err.data.message}`); socket.disconnect(); }
    else if (code === "ended") { setStatus("This class has ended."); socket.disconnect(); }
    else setStatus("Connection lost, retrying…");
  });
  socket.on("disconnect", () => setStatus("Connection lost, reconnecting…"));
  socket.on("class:state", (snap) => {
    state.seq = snap.seq;
    state.you = snap.you;
    state.participants = new Map(snap.participants.map((p) => [p.user_id, p]));
    state.hands = new Set(snap.hands.map((h) => h.user_id));
    $("title").textContent = snap.class.title;
    document.title = snap.class.title;
    $("chat").replaceChildren();
    snap.chat.forEach(addChat);
    $("class").hidden = false;
    setStatus(`Connected as ${snap.you.name} (${snap.you.role}).`);
    renderParticipants();
  });
  socket.on("class:resumed", () => setStatus(`Reconnected as ${state.you?.name ?? ""}.`));
  socket.on("participant:joined", (ev) => { if (fresh(ev)) { state.participants.set(ev.user_id, ev); renderParticipants(); } });
  socket.on("participant:left", (ev) => { if (fresh(ev)) { state.participants.delete(ev.user_id); renderParticipants(); } });
  socket.on("participant:updated", (ev) => {
    if (!fresh(ev)) return;
    const p = state.participants.get(ev.user_id);
    if (p) Object.assign(p, { role: ev.role });
    renderParticipants();
  });
  socket.on("hand:changed", (ev) => {
    if (!fresh(ev)) return;
    if (ev.raised) state.hands.add(ev.user_id); else state.hands.delete(ev.user_id);
    renderParticipants();
  });
  socket.on("chat:message", (msg) => { if (fresh(msg)) addChat(msg); });
  socket.on("class:ended", () => { setStatus("The class has ended."); socket.disconnect(); });
  socket.on("session:replaced", () => { setStatus("You joined from another window; this one is closed."); socket.disconnect(); });

  $("chat-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("chat-input");
    const text = input.value.trim();
    if (!text) return;
    socket.emit("chat:send", { text }, (ack) => {
      if (ack?.ok) input.value = ""; else setStatus(ack?.error?.message ?? "Not sent");
    });
  });
  $("hand").addEventListener("click", () => {
    const raised = state.hands.has(state.you?.user_id);
    socket.emit(raised ? "hand:lower" : "hand:raise", {}, () => {});
  });
  return socket;
}

async function main() {
  try {
    const info = await (await fetch("/api/info")).json();
    await loadScript(info.wire === "msgpack" ? "/static/vendor/socket.io.msgpack.min.js"
                                             : "/static/vendor/socket.io.min.js");
    let token = params.get("token");
    if (!token && params.get("invite")) token = await tokenFromInvite(params.get("invite"));
    if (!token) { setStatus("This link has no join token. Ask your teacher for a join link."); return; }
    connect(token, info.wire);
  } catch (err) {
    setStatus(String(err.message ?? err));
  }
}

main();
