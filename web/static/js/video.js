// The video stage: one large tile (the one you pinned, else the screen share,
// else the active speaker, else the presenter) and a gallery of everyone else
// in our room, a page at a time; a speaking highlight, and an <audio> element
// per remote audio track.
//
// The page receives only the video it shows (rtc:view through media.js): the
// large tile in full, gallery tiles as the publisher's low layer, nothing for
// tiles on other pages, scrolled out of sight (IntersectionObserver) or while
// the tab is hidden. Sound always comes: audio only stops video, never sound.

import { $, h, keyed, setText } from "./dom.js";
import { boardShows } from "./board_state.js";
import { isMuted, isStaff, myRoom } from "./state.js";

// Tiles per gallery page by the gallery's width: a phone, a laptop, a wide screen.
const PAGE_SIZES = [[1100, 16], [480, 9], [0, 4]];
const STRIP_TILE_PX = 128;
const STRIP_GAP_PX = 8;
const MIN_STRIP = 3;

const stage = {
  page: 0,
  pinned: null,        // the key of the tile pinned large
  onScreen: new Map(), // tile key -> whether any of it is in the viewport
  observer: null,
  watched: new Set(),  // tile elements the observer watches
  rerender: () => {},
};

function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0]).join("").toUpperCase();
}

function tileFor(item) {
  const video = h("video", { autoplay: true, playsinline: true, muted: true });
  video.muted = true; // the picture only: sound plays from the <audio> elements
  const pin = h("button", { type: "button", class: "pin small", on: { click: () => togglePin(item.key) } });
  const el = h("figure", { class: "tile", dataset: { user: item.user_id, source: item.source } },
    video,
    h("div", { class: "avatar", "aria-hidden": "true" }),
    h("figcaption", {}, h("span", { class: "name" }), h("span", { class: "badges" }), pin));
  stage.observer?.observe(el);
  stage.watched.add(el);
  return el;
}

function togglePin(key) {
  stage.pinned = stage.pinned === key ? null : key;
  stage.rerender();
}

function attach(video, track) {
  const current = video.srcObject?.getTracks?.()[0] ?? null;
  if (current === track) return;
  video.srcObject = track ? new MediaStream([track]) : null;
  if (track) video.play().catch(() => {});
}

function attachStream(video, stream) {
  if (video.srcObject !== stream) {
    video.srcObject = stream;
    if (stream) video.play().catch(() => {});
  }
}

// What each tile shows: [{key, user_id, name, source, track (MediaStreamTrack|null),
// trackId (the published video, received or not), local}]
function tiles(s, media) {
  const me = s.you?.user_id;
  const room = myRoom(s);
  const people = [...s.people.values()].filter((p) => p.room === room);
  people.sort((a, b) => Number(isStaff(b.role)) - Number(isStaff(a.role)) || a.name.localeCompare(b.name));
  const out = [];
  for (const p of people) {
    const mine = p.user_id === me;
    const of = (source) => ({
      key: `${p.user_id}:${source}`, user_id: p.user_id, role: p.role, source, mine,
      track: mine ? null : media.trackOf(s, p.user_id, source),
      trackId: mine ? null : media.videoTrackId(s, p.user_id, source),
    });
    out.push({ ...of("camera"), name: p.name, stream: mine && media.cam ? media.local : null });
    if (mine ? media.screen : media.sends(s, p.user_id, "screen")) {
      out.push({ ...of("screen"), name: `${p.name} (screen)`, stream: mine ? media.screen : null });
    }
  }
  return out;
}

// While the board shows a page, it is the large picture: the cameras (and a screen
// share) are a strip of small tiles under it, unless one is pinned.
function largeTile(all, s) {
  const pinned = all.find((t) => t.key === stage.pinned);
  if (boardShows(s)) return pinned;
  const others = all.filter((t) => !t.mine);
  return pinned
    ?? all.find((t) => t.source === "screen")
    ?? others.find((t) => t.source === "camera" && t.user_id === s.speaker)
    ?? others.find((t) => t.role === "host");
}

function pageSize() {
  const width = $("grid").clientWidth || window.innerWidth;
  return PAGE_SIZES.find(([atLeast]) => width >= atLeast)[1];
}

// Under the board: the small tiles one row holds (style.css: 8rem and the gap).
function stripSize() {
  const width = $("grid").clientWidth || window.innerWidth;
  return Math.max(MIN_STRIP, Math.floor((width + STRIP_GAP_PX) / (STRIP_TILE_PX + STRIP_GAP_PX)));
}

export function setupStage(media) {
  stage.rerender = () => media.changed();
  stage.observer = new IntersectionObserver((entries) => {
    let changed = false;
    for (const entry of entries) {
      const key = entry.target.dataset.key;
      if (key !== undefined && stage.onScreen.get(key) !== entry.isIntersecting) {
        stage.onScreen.set(key, entry.isIntersecting);
        changed = true;
      }
    }
    if (changed) stage.rerender();
  });
  document.addEventListener("visibilitychange", stage.rerender);
  $("page-prev").addEventListener("click", () => { stage.page -= 1; stage.rerender(); });
  $("page-next").addEventListener("click", () => { stage.page += 1; stage.rerender(); });
  $("audio-only").addEventListener("click", () => {
    media.setAudioOnly(!media.audioOnly);
    $("quality-offer").hidden = true;
  });
  // The video we receive keeps arriving badly: offer audio only (js/quality.js).
  media.poorConnection = () => { if (!media.audioOnly) $("quality-offer").hidden = false; };
  $("quality-accept").addEventListener("click", () => {
    $("quality-offer").hidden = true;
    media.setAudioOnly(true);
  });
  $("quality-decline").addEventListener("click", () => {
    $("quality-offer").hidden = true;
    media.quality.decline();
  });
}

export function renderStage(s, media) {
  const room = myRoom(s);
  media.syncPeers([...s.people.values()].filter((p) => p.room === room && p.user_id !== s.you?.user_id)
    .map((p) => p.user_id));
  const all = tiles(s, media);
  if (stage.pinned && !all.some((t) => t.key === stage.pinned)) stage.pinned = null;
  const board = boardShows(s);
  const large = largeTile(all, s);
  const gallery = all.filter((t) => t !== large);
  const size = board ? stripSize() : pageSize();
  const pages = Math.max(1, Math.ceil(gallery.length / size));
  stage.page = Math.min(Math.max(0, stage.page), pages - 1);
  const shown = gallery.slice(stage.page * size, (stage.page + 1) * size);
  const update = (el, t) => updateTile(el, t, s, media);
  keyed($("spotlight"), large ? [large] : [], (t) => t.key, tileFor, update);
  keyed($("grid"), shown, (t) => t.key, tileFor, update);
  forgetGone();
  $("stage").classList.toggle("has-spotlight", Boolean(large));
  $("stage").classList.toggle("has-board", board);
  renderPager(pages);
  const wanted = view(large, shown);
  media.setView(wanted.map(([t, layer]) => ({ track_id: t.trackId, layer })));
  // A camera shown should bring frames (a still screen share may rightly bring none).
  media.quality.showing = !media.audioOnly && wanted.some(([t]) => t.track && t.source === "camera");
  renderAudioOnly(media);
  renderAudio(s, media);
}

// The video to receive, [[tile, layer]]: what is on screen, large in full, small
// as the low layer.
function view(large, shown) {
  if (document.visibilityState === "hidden") return [];
  const wanted = [...(large ? [[large, "high"]] : []), ...shown.map((t) => [t, "low"])];
  return wanted.filter(([t]) => t.trackId && stage.onScreen.get(t.key) !== false);
}

// Tiles no longer on the stage: stop watching them (a tile shown again starts afresh).
function forgetGone() {
  for (const el of stage.watched) {
    if (el.isConnected) continue;
    stage.observer?.unobserve(el);
    stage.watched.delete(el);
    if (!document.querySelector(`.tile[data-key="${CSS.escape(el.dataset.key)}"]`)) {
      stage.onScreen.delete(el.dataset.key);
    }
  }
}

function renderPager(pages) {
  $("pager").hidden = pages < 2;
  setText($("page-label"), `Page ${stage.page + 1} of ${pages}`);
  $("page-prev").disabled = stage.page === 0;
  $("page-next").disabled = stage.page >= pages - 1;
}

function renderAudioOnly(media) {
  const button = $("audio-only");
  button.hidden = Boolean(media.mesh);
  button.setAttribute("aria-pressed", String(media.audioOnly));
  setText(button, media.audioOnly ? "Show video" : "Audio only");
}

function updateTile(el, t, s, media) {
  const video = el.querySelector("video");
  if (t.mine) {
    attachStream(video, t.stream);
    video.classList.toggle("mirror", t.source === "camera");
  } else attach(video, t.track);
  const showing = Boolean(t.mine ? t.stream : t.track);
  el.classList.toggle("no-video", !showing);
  setText(el.querySelector(".avatar"), initials(t.name));
  const speaking = s.speaker === t.user_id && t.source === "camera";
  el.classList.toggle("speaking", speaking);
  const micOff = t.mine ? !media.mic || !media.local : isMuted(s, t.user_id, "mic")
    || !media.sends(s, t.user_id, "mic");
  setText(el.querySelector(".name"), t.mine && t.source === "camera" ? `${t.name} (you)` : t.name);
  const badges = [];
  if (s.hands.has(t.user_id) && t.source === "camera") badges.push("Hand raised");
  if (t.source === "camera" && micOff) badges.push("Muted");
  if (speaking) badges.push("Speaking");
  const box = el.querySelector(".badges");
  if (box.dataset.sig !== badges.join("|")) {
    box.dataset.sig = badges.join("|");
    box.replaceChildren(...badges.map((b) => h("span", { class: "badge-tag", text: b })));
  }
  const pin = el.querySelector(".pin");
  const pinned = stage.pinned === t.key;
  pin.hidden = t.mine;
  pin.setAttribute("aria-pressed", String(pinned));
  setText(pin, pinned ? "Unpin" : "Pin");
  pin.setAttribute("aria-label", `${pinned ? "Unpin" : "Pin"} ${t.name}`);
  const words = [t.name, micOff && t.source === "camera" ? "microphone off" : "", speaking ? "speaking" : "",
    showing ? "" : "no video"].filter(Boolean);
  el.setAttribute("aria-label", words.join(", "));
}

function renderAudio(s, media) {
  keyed($("audio"), media.audible(s), (a) => a.key, () => h("audio", { autoplay: true }), (el, a) => attach(el, a.track));
}
