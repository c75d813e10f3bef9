// The classroom page: joins with the token (or invite) from the URL fragment,
// checks camera and microphone, then keeps the class state in step with the
// server and renders it. Each panel lives in its own module under js/.

import * as breakouts from "./js/breakouts.js";
import * as chat from "./js/chat.js";
import { MESSAGES, claimsOf, connect, loadClient } from "./js/connection.js";
import { $, h } from "./js/dom.js";
import { redeemInvite } from "./js/invite.js";
import { Media } from "./js/media.js";
import * as people from "./js/people.js";
import * as polls from "./js/polls.js";
import { setupPrejoin } from "./js/prejoin.js";
import * as qa from "./js/qa.js";
import * as recording from "./js/recording.js";
import * as slides from "./js/slides.js";
import { amStaff, apply, createState } from "./js/state.js";
import { setupTabs } from "./js/tabs.js";
import { renderStage, setupStage } from "./js/video.js";

const classId = decodeURIComponent(location.pathname.split("/").pop());
const params = new URLSearchParams(location.hash.slice(1));
const state = createState();
let clockOffset = 0;

function setStatus(text, kind = "") {
  const el = $("status");
  el.textContent = text;
  el.dataset.kind = kind;
}

function showBanner(code, text, { retry = false } = {}) {
  $("banner").hidden = false;
  $("banner").dataset.code = code;
  $("banner-text").textContent = text;
  $("banner-retry").hidden = !retry;
  setStatus(text, "error");
  $("banner").focus();
}

async function tokenFromInvite(invite) {
  const token = await redeemInvite(`/api/classes/${encodeURIComponent(classId)}/join`, invite, {
    setStatus,
    prompt: "Enter your name to join.",
    key: `classroom:${classId}:invited`,
    belongs: (claims) => claims.cls === classId,
  });
  history.replaceState(null, "", `#token=${token}${params.has("test") ? "&test=1" : ""}`);
  return token;
}

// Refuse early what the server would refuse anyway; expiry only well past
// (the server has the last word, and this machine's clock may be off).
const CLOCK_SKEW_MS = 10 * 60 * 1000;
function tokenProblem(token) {
  const claims = claimsOf(token);
  if (!claims) return ["unauthorized", MESSAGES.unauthorized];
  if (claims.cls && claims.cls !== classId) return ["unauthorized", MESSAGES.unauthorized];
  if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now() - CLOCK_SKEW_MS) return ["unauthorized", MESSAGES.expired];
  return null;
}

function classroom(token, media) {
  let conn = null;
  let renders = [];
  let pending = false;
  const ctx = {
    state,
    token,
    send: (event, data) => conn.send(event, data),
    notify: (text, kind) => setStatus(text, kind),
    now: () => Date.now() + clockOffset,
    refresh: () => schedule(),
    openTab: (name) => tabs.open(name),
    badge: (name) => tabs.badge(name),
    media,
    dm: () => {},
  };
  const tabs = setupTabs();

  // Hosts and moderators always may publish; participants unless the host locked it.
  const mayPublish = () => state.locks.publish || amStaff(state);
  function render() {
    pending = false;
    if (!state.ready) return;
    $("title").textContent = state.classInfo.title;
    document.title = state.classInfo.title;
    for (const fn of renders) fn(state);
    if (media.mayPublish !== mayPublish()) media.setMayPublish(mayPublish());
    renderStage(state, media);
    renderControls();
  }
  function schedule() {
    if (pending) return;
    pending = true;
    queueMicrotask(render);
  }
  media.send = (event, data) => conn.send(event, data);
  media.changed = schedule;
  media.notice = (text) => setStatus(text, "warn");
  // A failed peer connection (the network changed, the server lost us) is
  // mended the way the server knows best: a new connection starts media afresh.
  let lastRestart = 0;
  media.failed = (which) => {
    // A pub connection the server closed because publishing is locked stays closed.
    if ((which === "pub" && !mayPublish()) || Date.now() - lastRestart < 10_000 || !conn.socket.connected) return;
    lastRestart = Date.now();
    setStatus("Audio and video were interrupted; reconnecting…", "warn");
    conn.socket.disconnect();
    conn.socket.connect();
  };

  function renderControls() {
    const micBtn = $("mic");
    const camBtn = $("cam");
    const hasMic = Boolean(media.track("audio"));
    const hasCam = Boolean(media.track("video"));
    micBtn.disabled = !hasMic;
    camBtn.disabled = !hasCam;
    // Each button names what it does next (so no aria-pressed on top).
    micBtn.textContent = media.mic ? "Mute" : "Unmute";
    micBtn.setAttribute("aria-label", media.mic ? "Mute your microphone" : "Unmute your microphone");
    camBtn.textContent = media.cam ? "Stop camera" : "Start camera";
    $("screen").textContent = media.screen ? "Stop sharing" : "Share screen";
    $("screen").hidden = !navigator.mediaDevices?.getDisplayMedia;
    $("end-class").hidden = state.you?.role !== "host";
  }

  // The server starts our media afresh on every (re)connection; a snapshot
  // sent later on the same connection (after a room move or a role change)
  // replaces the state only.
  let freshConnection = true;
  function startMedia() {
    media.setMayPublish(mayPublish());
    if (!freshConnection) return;
    freshConnection = false;
    media.start(state.media.ice_servers, { mode: state.media.mode, me: state.you.user_id });
  }

  function onEvent(name, data) {
    if (typeof data?.ts === "number" && name !== "rtc:offer") clockOffset = data.ts - Date.now();
    switch (name) {
      case "class:state":
        apply(state, name, data);
        if ($("class").hidden) {
          $("class").hidden = false;
          $("title").focus(); // the join button just went away: start from the top
        }
        if (freshConnection) setStatus(`Connected as ${state.you.name}.`, "ok");
        startMedia();
        break;
      case "class:resumed":
        setStatus(`Reconnected as ${state.you?.name ?? ""}.`, "ok");
        startMedia();
        break;
      case "rtc:offer":
        media.onOffer(data);
        return;
      case "rtc:signal":
        media.onSignal(data);
        return;
      case "participant:joined":
        if (!apply(state, name, data)) return;
        media.peerRejoined(data.user_id);
        break;
      case "rtc:muted":
        apply(state, name, data);
        if (data.user_id === state.you?.user_id && data.muted && data.by && data.by !== data.user_id) {
          media.mutedBy(data.source);
          setStatus(data.source === "mic" ? "A host muted your microphone." : "A host turned off your camera.", "warn");
        }
        break;
      case "breakout:message":
        apply(state, name, data);
        setStatus(`Message to all rooms from ${data.from?.name ?? "the host"}: ${data.text}`, "ok");
        break;
      case "breakout:closing":
        apply(state, name, data);
        setStatus(`Breakout rooms close in ${data.in_s} seconds.`, "warn");
        break;
      case "reaction":
        showReaction(data);
        return;
      default:
        if (!apply(state, name, data)) return;
    }
    schedule();
  }

  function showReaction(data) {
    const who = state.people.get(data.user_id)?.name ?? "Someone";
    const el = h("span", { class: "reaction", text: `${data.emoji} ${who}` });
    $("reactions").append(el);
    setTimeout(() => el.remove(), 4000);
  }

  function fatal(code, text) {
    media.leave();
    $("class").hidden = true;
    showBanner(code, text, { retry: code === "replaced" });
  }

  conn = connect({
    token,
    classId,
    state,
    handlers: {
      event: onEvent,
      status: setStatus,
      fatal,
      connected: () => { freshConnection = true; },
      disconnected: () => { media.stop(); },
    },
  });

  setupStage(media);
  renders = [chat.setup(ctx), people.setup(ctx), polls.setup(ctx), qa.setup(ctx), breakouts.setup(ctx), recording.setup(ctx),
    slides.setup(ctx, classId)];

  $("mic").addEventListener("click", async () => {
    const ack = await media.setMic(!media.mic);
    if (!ack.ok) setStatus(ack.error?.message ?? "Could not change the microphone", "warn");
  });
  $("cam").addEventListener("click", async () => {
    const ack = await media.setCam(!media.cam);
    if (!ack.ok) setStatus(ack.error?.message ?? "Could not change the camera", "warn");
  });
  $("screen").addEventListener("click", async () => {
    try {
      if (media.screen) await media.stopScreen();
      else await media.shareScreen();
    } catch (err) {
      setStatus(`Screen sharing did not start: ${err.message ?? err}`, "warn");
    }
  });
  for (const btn of document.querySelectorAll(".react")) {
    btn.addEventListener("click", () => conn.send("reaction:send", { emoji: btn.dataset.emoji }));
  }
  $("leave").addEventListener("click", () => {
    conn.close();
    fatal("left", "You left the class.");
    $("banner-retry").hidden = false;
  });
  $("end-class").addEventListener("click", async () => {
    if (!confirm("End the class for everyone?")) return;
    const ack = await conn.send("class:end", {});
    if (!ack.ok) setStatus(ack.error?.message ?? "Could not end the class", "warn");
  });
  $("banner-retry").addEventListener("click", () => location.reload());
  // Countdowns (breakout timer, timed polls) tick while something is timed.
  setInterval(() => {
    const timed = state.breakouts || [...state.polls.values()].some((p) => p.status === "open" && p.ends_at);
    if (timed) schedule();
  }, 1000);

  // Tests read the peer connections' statistics (links with "test" in the fragment).
  if (params.has("test")) {
    window.__classroom = {
      state, media, conn,
      get pub() { return media.pub; },
      get sub() { return media.sub; },
      get pcs() { return media.receiving(); },
    };
  }
}

async function main() {
  try {
    await loadClient();
    let token = params.get("token");
    if (!token && params.get("invite")) token = await tokenFromInvite(params.get("invite"));
    if (!token) {
      showBanner("no-token", "This link has no join token. Ask your teacher for a join link.");
      return;
    }
    const problem = tokenProblem(token);
    if (problem) { showBanner(...problem); return; }
    const media = new Media({ send: () => Promise.resolve({ ok: false }), changed: () => {}, notice: () => {} });
    await setupPrejoin(media, { setStatus });
    startClass(token, media);
  } catch (err) {
    showBanner("error", String(err.message ?? err));
  }
}

function startClass(token, media) {
  setStatus("Connecting…");
  classroom(token, media);
}

main();
