// The replay page: the recording's video with the class timeline in sync.
// The timeline holds the very events live clients received; the page folds
// them through the live page's reducers up to the playback position (and
// again from the start after a seek back), so chat, polls with their results
// at that moment, questions and breakout rooms look as they did then.
//
// A recording is private until shared: the page opens with a replay token
// (`#token=`) or a share link (`#invite=`, traded for a token once the viewer
// gives a name), keeps the token in this tab only and sends it as a bearer.
// The manifest names each file with a signed, expiring URL the video loads.
// With the same token the page joins the recording's own stream, where the
// viewer takes part (replay_part.js).

import { chatItem } from "./chat.js";
import { countdown } from "./breakouts.js";
import { $, clock, h, keyed, setText } from "./dom.js";
import { updateCard } from "./polls.js";
import { claimsOf, loadClient } from "./connection.js";
import { redeemInvite } from "./invite.js";
import { questionItem, questionOrder, updateQuestion } from "./qa.js";
import { ReplayBoard } from "./replay_board.js";
import { MAIN, apply, createState, roomName } from "./state.js";
import { TakePart } from "./replay_part.js";
import { setupTabs } from "./tabs.js";
import { Transcript } from "./transcript.js";

const recordingId = decodeURIComponent(location.pathname.split("/").pop());
const api = (path = "") => `/api/recordings/${encodeURIComponent(recordingId)}${path}`;
const TOKEN_KEY = `replay-token:${recordingId}`;
const POLL_EVERY_MS = 2000;
const NOT_SHARED_POLL_MS = 10_000;
const PREPARING = { stopped: "waiting to be published", publishing: "being prepared", recording: "still being recorded", paused: "still being recorded (paused)" };

function setStatus(text, kind = "") {
  $("status").textContent = text;
  $("status").dataset.kind = kind;
}

function showBanner(text) {
  $("banner").hidden = false;
  $("banner-text").textContent = text;
  setStatus(text, "error");
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// A share link: the viewer gives a name and gets a replay token of their own.
async function tokenFromInvite(invite) {
  try {
    return await redeemInvite(api("/join"), invite, { setStatus, prompt: "Enter your name to watch.", watchOnly: true });
  } catch (err) {
    throw new Error(`This share link does not work: ${err.message}.`);
  }
}

// The replay token: from the link (then kept in this tab, out of the address
// bar) or kept from earlier in this tab; a share link is redeemed once per tab.
async function replayToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const kept = sessionStorage.getItem(TOKEN_KEY);
  let token = params.get("token");
  if (!token && params.get("invite")) token = kept ?? await tokenFromInvite(params.get("invite"));
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return token ?? kept;
}

const authorized = (token, init = {}) => ({ ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } });

// The recording's status, waiting while it is still being recorded, published or shared.
async function published(token) {
  for (;;) {
    const res = await fetch(api(), authorized(token));
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      throw new Error("This replay link is not valid or has expired. Ask for a new one.");
    }
    if (res.status === 404) throw new Error("There is no such recording. Check the link.");
    if (res.status === 403) {
      setStatus("This recording has not been shared with you yet. The page opens it when it is.");
      await sleep(NOT_SHARED_POLL_MS);
      continue;
    }
    if (!res.ok) throw new Error("The recording could not be loaded. Try again later.");
    const rec = await res.json();
    if (rec.title) $("title").textContent = rec.title;
    if (rec.manifest) return rec;
    if (rec.state === "failed") throw new Error(`This recording could not be published: ${rec.error ?? "unknown error"}.`);
    const pct = typeof rec.percent === "number" ? ` (${Math.round(rec.percent)}%)` : "";
    setStatus(`This recording is ${PREPARING[rec.state] ?? rec.state}${pct}. The page opens it when it is ready.`);
    await sleep(POLL_EVERY_MS);
  }
}

// What an event looks like in the events list, or null to leave it out.
function describe(name, d, names) {
  const who = (id) => names.get(id) ?? "Someone";
  switch (name) {
    case "chat:message": return `${d.from?.name ?? "Someone"}: ${d.text}`;
    case "participant:joined": return `${d.name ?? d.participant?.name} joined`;
    case "participant:left": return `${who(d.user_id)} left`;
    case "hand:changed": return d.raised ? `${who(d.user_id)} raised their hand` : null;
    case "poll:opened": return `Poll opened: ${d.poll.question}`;
    case "poll:closed": return "Poll closed";
    case "poll:results_shown": return d.shown ? "Poll results shown" : null;
    case "poll:published": return "Poll results published";
    case "qa:question": return `Question: ${d.question.text}`;
    case "qa:updated": return d.question.status === "answered" ? `Answered: ${d.question.text}` : null;
    case "breakout:opened": return "Breakout rooms opened";
    case "breakout:closing": return "Breakout rooms closing";
    case "breakout:closed": return "Breakout rooms closed";
    case "breakout:message": return `Message to all rooms: ${d.text}`;
    case "marker": return `Chapter: ${d.title}`;
    default: return null;
  }
}

class Replay {
  constructor(rec, timeline, token) {
    this.token = token;
    this.rec = rec;
    this.manifest = rec.manifest;
    this.events = [...(timeline.events ?? [])].sort((a, b) => a.t - b.t);
    this.names = new Map((this.manifest.participants ?? []).map((p) => [p.user_id, p.name]));
    this.video = $("video");
    this.offset = 0; // timeline ms at media time 0
    this.search = "";
    this.fold = null;
    this.ctx = { state: null, now: () => this.wallClock(), send: async () => ({ ok: false }), notify() {}, refresh() {} };
    this.present = this.initiallyPresent();
    this.board = new ReplayBoard(this.manifest, this.events, (t) => this.seek(t));
  }

  // People present when the recording started: those whose first presence event is not a join.
  initiallyPresent() {
    const first = new Map();
    for (const ev of this.events) {
      if ((ev.name === "participant:joined" || ev.name === "participant:left") && !first.has(ev.data.user_id)) {
        first.set(ev.data.user_id, ev.name);
      }
    }
    return (this.manifest.participants ?? []).filter((p) => first.get(p.user_id) !== "participant:joined");
  }

  freshState() {
    const s = createState();
    s.ready = true;
    s.you = { user_id: "", name: "", role: "participant", room: MAIN };
    s.classInfo = { id: this.manifest.class_id, title: this.manifest.title };
    for (const p of this.present) s.people.set(p.user_id, { user_id: p.user_id, name: p.name, role: "participant", room: MAIN });
    return s;
  }

  // The timeline position of the playhead. The media may end a little before
  // the recording did: at its end, everything up to the recording's end shows.
  now() {
    const v = this.video;
    const t = Math.round(v.currentTime * 1000) + this.offset;
    const atEnd = v.ended || (v.duration > 0 && v.currentTime >= v.duration - 0.05);
    return Math.max(0, atEnd ? Math.max(t, this.manifest.duration_ms ?? 0) : t);
  }

  // Roughly the server's clock at the playback position (for countdowns).
  wallClock() {
    const f = this.fold;
    const last = f && f.index > 0 ? this.events[f.index - 1] : null;
    const t = f?.t ?? 0;
    if (last?.data?.ts) return last.data.ts + (t - last.t);
    return (this.manifest.started_at ?? 0) + t;
  }

  foldTo(t) {
    if (!this.fold || t < this.fold.t) this.fold = { state: this.freshState(), index: 0, t: 0 };
    const f = this.fold;
    while (f.index < this.events.length && this.events[f.index].t <= t) {
      const ev = this.events[f.index];
      apply(f.state, ev.name, ev.data);
      f.index += 1;
    }
    f.t = t;
    this.ctx.state = f.state;
  }

  seek(t) {
    this.video.currentTime = Math.max(0, (t - this.offset) / 1000);
    this.render();
  }

  seekButton(t, label) {
    return h("button", { type: "button", class: "seek", on: { click: () => this.seek(t) } },
      h("span", { class: "t", text: clock(t) }), h("span", { text: label }));
  }

  // A chat message with its time as a button that plays from there.
  chatLine(s, msg, t) {
    const li = chatItem(s, msg);
    li.dataset.t = String(t);
    li.prepend(h("button", { type: "button", class: "seek t-only", "aria-label": `Play from ${clock(t)}`,
      on: { click: () => this.seek(t) } }, h("span", { class: "t", text: clock(t) })));
    return li;
  }

  // -- setup ------------------------------------------------------------------

  async start() {
    const m = this.manifest;
    document.title = `${m.title} — replay`;
    $("title").textContent = m.title;
    // The MP4 for browsers that play no WebM (VP8 and Opus).
    const webm = this.video.canPlayType('video/webm; codecs="vp8, opus"') !== "";
    const composite = m.composite_mp4 && !webm ? m.composite_mp4 : m.composite;
    const source = composite ?? m.tracks?.find((tr) => tr.kind === "video")?.file ?? null;
    this.source = source;
    if (!m.composite) {
      const track = m.tracks?.find((tr) => tr.file === source);
      this.offset = track?.offset_ms ?? 0;
    }
    if (source) this.video.src = m.files[source];
    else setStatus("This recording has no video; the class timeline plays on its own.", "warn");
    this.video.addEventListener("error", () => this.renew());
    $("download").hidden = !m.composite;
    if (m.composite) {
      $("download").href = m.files[m.composite];
      $("download").setAttribute("download", `${m.title || "recording"}.webm`);
    }
    $("download-mp4").hidden = !m.composite_mp4;
    if (m.composite_mp4) {
      $("download-mp4").href = m.files[m.composite_mp4];
      $("download-mp4").setAttribute("download", `${m.title || "recording"}.mp4`);
    }
    $("speed").addEventListener("change", () => { this.video.playbackRate = Number($("speed").value); });
    this.video.addEventListener("ratechange", () => { $("speed").value = String(this.video.playbackRate); });
    for (const ev of ["timeupdate", "seeked", "seeking", "loadedmetadata"]) this.video.addEventListener(ev, () => this.render());
    $("search").addEventListener("input", () => { this.search = $("search").value.trim().toLowerCase(); this.renderSearch(); this.render(); });
    this.renderChapters();
    this.renderEvents();
    this.transcript = new Transcript(m, this.video, (t) => this.seek(t));
    this.transcript.start().then(() => this.render(), () => {});
    this.board.start().then(() => { this.renderSearch(); this.render(); }, () => {});
    const t = Number(new URLSearchParams(location.search).get("t"));
    if (Number.isFinite(t) && t > 0) {
      const jump = () => this.seek(t * 1000);
      if (this.video.readyState >= 1 || !source) jump();
      else this.video.addEventListener("loadedmetadata", jump, { once: true });
    }
    setupTabs();
    this.setupSharing();
    $("replay").hidden = false;
    setStatus(`Recorded ${new Date(m.started_at).toLocaleString()} · ${clock(m.duration_ms)}`);
    this.render();
  }

  // File URLs expire: once they have, a failed load fetches fresh ones and goes on where it was.
  async renew() {
    if (this.renewing || !this.source || Date.now() / 1000 < this.manifest.files_expire_at - 60) return;
    this.renewing = true;
    try {
      const rec = await published(this.token);
      if (rec.manifest.files_expire_at <= Date.now() / 1000) throw new Error("This replay link has expired. Ask for a new one.");
      this.manifest.files = rec.manifest.files;
      this.manifest.files_expire_at = rec.manifest.files_expire_at;
      const { currentTime, paused } = this.video;
      this.video.src = this.manifest.files[this.source];
      this.video.currentTime = currentTime;
      if (!paused) await this.video.play().catch(() => {});
    } catch (err) {
      showBanner(String(err.message ?? err));
    } finally {
      this.renewing = false;
    }
  }

  // Hosts choose who may watch, hide learners' names and make share links.
  setupSharing() {
    if (claimsOf(this.token)?.role !== "host") return;
    $("sharing").hidden = false;
    $("visibility").value = this.rec.visibility ?? "private";
    $("pseudonyms").checked = Boolean(this.rec.options?.pseudonyms);
    $("anonymous-viewing").checked = Boolean(this.rec.anonymous_viewing);
    const post = async (path, body) => {
      const res = await fetch(api(path), authorized(this.token, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      }));
      const out = await res.json();
      if (!res.ok) throw new Error(out.error?.message ?? "error");
      return out;
    };
    $("share-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const rec = await post("/publish", {
          visibility: $("visibility").value, pseudonyms: $("pseudonyms").checked, anonymous_viewing: $("anonymous-viewing").checked,
        });
        setStatus(rec.state === "publishing"
          ? "Sharing saved. The recording is being built again; viewers see it once that is done."
          : "Sharing saved.", "ok");
      } catch (err) {
        setStatus(`Sharing not saved: ${err.message}`, "warn");
      }
    });
    $("share-link").addEventListener("click", async () => {
      try {
        const { link } = await post("/share", {});
        const url = new URL(link);
        $("share-url").value = `${location.origin}${url.pathname}${url.hash}`;
        $("share-url").hidden = false;
        $("share-url").select();
        if ($("visibility").value !== "link") setStatus("The link works once \"Anyone with the share link\" is saved.", "warn");
      } catch (err) {
        setStatus(`No share link: ${err.message}`, "warn");
      }
    });
  }

  renderChapters() {
    const chapters = this.manifest.chapters ?? [];
    $("chapters-empty").hidden = chapters.length > 0;
    $("chapters").replaceChildren(...chapters.map((c) => h("li", { dataset: { t: c.t_ms } }, this.seekButton(c.t_ms, c.title))));
  }

  renderEvents() {
    const items = [];
    for (const ev of this.events) {
      if (ev.name === "participant:joined") this.names.set(ev.data.user_id, ev.data.name);
      const text = describe(ev.name, ev.data, this.names);
      if (text) items.push(h("li", { dataset: { t: ev.t } }, this.seekButton(ev.t, text)));
    }
    $("events").replaceChildren(...items);
  }

  // -- rendering at the playback position ----------------------------------------------------

  render() {
    const t = this.now();
    this.foldTo(t);
    const s = this.fold.state;
    setText($("clock"), `${clock(t)} / ${clock(this.manifest.duration_ms ?? 0)}`);
    const link = new URL(location.href);
    link.searchParams.set("t", String(Math.floor(t / 1000)));
    $("moment-link").href = link.pathname + link.search;
    this.markTimes($("chapters"), t, true);
    this.markTimes($("events"), t);
    this.transcript?.render(t);
    const people = [...s.people.values()].sort((a, b) => a.name.localeCompare(b.name));
    setText($("present-count"), String(people.length));
    keyed($("present"), people, (p) => p.user_id, (p) => h("li", { class: "chip" }),
      (el, p) => setText(el, p.room && p.room !== MAIN ? `${p.name} (${roomName(s, p.room)})` : p.name));
    if (this.search) {
      this.markTimes($("chat"), t);
      this.markTimes($("questions"), t);
    } else {
      this.renderChat(s);
      this.renderQuestions(s);
    }
    this.renderPolls(s);
    this.renderRooms(s);
    this.board.render(s);
    this.markTimes($("slide-results"), t);
  }

  // Dim what is still to come; mark the current chapter.
  markTimes(list, t, current = false) {
    let last = null;
    for (const li of list.children) {
      const future = Number(li.dataset.t) > t;
      li.classList.toggle("future", future);
      if (!future) last = li;
      if (current) li.removeAttribute("aria-current");
    }
    if (current && last) last.setAttribute("aria-current", "true");
  }

  renderChat(s) {
    $("chat-empty").hidden = s.chat.length > 0;
    const times = this.chatTimes ??= new Map(this.events.filter((e) => e.name === "chat:message").map((e) => [e.data.id, e.t]));
    keyed($("chat"), s.chat, (m) => m.id, (m) => this.chatLine(s, m, times.get(m.id) ?? 0));
  }

  renderPolls(s) {
    const polls = [...s.polls.values()].reverse();
    $("polls-empty").hidden = polls.length > 0;
    keyed($("polls"), polls, (p) => p.id, () => h("li", { class: "card poll" },
      h("h3", { class: "question" }), h("p", { class: "meta" }), h("div", { class: "vote-slot" }), h("p", { class: "yours" }),
      h("div", { class: "results-slot" }), h("div", { class: "buttons" })),
    (el, p) => { setText(el.querySelector(".question"), p.question); updateCard(this.ctx, el, p, { readonly: true }); });
  }

  renderQuestions(s) {
    const qs = questionOrder(s.questions.values());
    $("qa-empty").hidden = qs.length > 0;
    keyed($("questions"), qs, (q) => q.id, questionItem, updateQuestion);
  }

  renderRooms(s) {
    const b = s.breakouts;
    $("rooms-none").hidden = Boolean(b);
    $("rooms-live").hidden = !b;
    if (!b) return;
    setText($("rooms-time"), countdown(b, this.wallClock()));
    keyed($("rooms"), b.rooms, (r) => r.id, () => h("li", { class: "room-box" }, h("h4"), h("ul", { class: "chips" })), (el, r) => {
      setText(el.querySelector("h4"), r.name);
      const inside = [...s.people.values()].filter((p) => p.room === r.id);
      keyed(el.querySelector("ul"), inside, (p) => p.user_id, (p) => h("li", { class: "chip", text: p.name }));
    });
    keyed($("room-messages"), s.messages, (m) => m.seq ?? m.ts, (m) => h("li", {},
      h("span", { class: "who", text: m.from?.name ?? "Host" }), h("span", { class: "text", text: m.text })));
  }

  // Search covers the whole recording; matches still to come are dimmed.
  renderSearch() {
    const q = this.search;
    $("search-summary").hidden = !q;
    const lines = this.transcript?.search(q) ?? 0;
    const slides = this.board.search(q);
    if (!q) {
      $("chat").replaceChildren();
      $("questions").replaceChildren();
      return;
    }
    const chats = this.events.filter((e) => e.name === "chat:message" && e.data.text.toLowerCase().includes(q));
    const seen = new Set();
    const questions = this.events.filter((e) => e.name === "qa:question" && e.data.question.text.toLowerCase().includes(q)
      && !seen.has(e.data.question.id) && seen.add(e.data.question.id));
    const state = this.fold?.state ?? this.freshState();
    $("chat").replaceChildren(...chats.map((e) => this.chatLine(state, e.data, e.t)));
    $("questions").replaceChildren(...questions.map((e) => h("li", { dataset: { t: e.t }, class: "card" },
      this.seekButton(e.t, e.data.question.text))));
    $("chat-empty").hidden = chats.length > 0;
    $("qa-empty").hidden = questions.length > 0;
    const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;
    setText($("search-summary"), `${count(chats.length, "message", "messages")}, ${count(questions.length, "question", "questions")}, ${count(slides, "slide", "slides")} and ${count(lines, "transcript line", "transcript lines")} match.`);
    this.markTimes($("chat"), this.now());
    this.markTimes($("questions"), this.now());
  }
}

async function main() {
  try {
    const token = await replayToken();
    if (!token) throw new Error("This replay link has no access key. Ask your teacher for a replay link.");
    const rec = await published(token);
    const res = await fetch(rec.manifest.files["timeline.json"]);
    const timeline = res.ok ? await res.json() : { events: [] };
    const replay = new Replay(rec, timeline, token);
    await replay.start();
    window.__replay = replay;
    await loadClient();
    replay.part = new TakePart(replay);
    replay.part.start(token);
  } catch (err) {
    showBanner(String(err.message ?? err));
  }
}

main();
