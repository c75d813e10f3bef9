// The video stage: one tile per person in our room (camera or initials), the
// screen share or else the presenter large, a speaking highlight, and an
// <audio> element per remote audio track.

import { $, h, keyed, setText } from "./dom.js";
import { isMuted, isStaff, myRoom } from "./state.js";

function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0]).join("").toUpperCase();
}

function tileFor(item) {
  const video = h("video", { autoplay: true, playsinline: true, muted: true });
  video.muted = true; // the picture only: sound plays from the <audio> elements
  return h("figure", { class: "tile", dataset: { user: item.user_id, source: item.source } },
    video,
    h("div", { class: "avatar", "aria-hidden": "true" }),
    h("figcaption", {}, h("span", { class: "name" }), h("span", { class: "badges" })));
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

// What each tile shows: [{key, user_id, name, source, track (MediaStreamTrack|null), local}]
function tiles(s, media) {
  const me = s.you?.user_id;
  const room = myRoom(s);
  const people = [...s.people.values()].filter((p) => p.room === room);
  people.sort((a, b) => Number(isStaff(b.role)) - Number(isStaff(a.role)) || a.name.localeCompare(b.name));
  const out = [];
  for (const p of people) {
    const mine = p.user_id === me;
    out.push({
      key: `${p.user_id}:camera`, user_id: p.user_id, name: p.name, role: p.role, source: "camera", mine,
      track: mine ? null : media.trackOf(s, p.user_id, "camera"),
      stream: mine && media.cam ? media.local : null,
    });
    if (mine ? media.screen : media.sends(s, p.user_id, "screen")) {
      out.push({
        key: `${p.user_id}:screen`, user_id: p.user_id, name: `${p.name} (screen)`, role: p.role, source: "screen", mine,
        track: mine ? null : media.trackOf(s, p.user_id, "screen"),
        stream: mine ? media.screen : null,
      });
    }
  }
  return out;
}

export function renderStage(s, media) {
  const room = myRoom(s);
  media.syncPeers([...s.people.values()].filter((p) => p.room === room && p.user_id !== s.you?.user_id)
    .map((p) => p.user_id));
  const all = tiles(s, media);
  const me = s.you?.user_id;
  // Large: a screen share, else the presenter (the host, for everyone else).
  const large = all.find((t) => t.source === "screen")
    ?? all.find((t) => t.role === "host" && !t.mine && t.user_id !== me);
  keyed($("spotlight"), large ? [large] : [], (t) => t.key, tileFor, (el, t) => updateTile(el, t, s, media));
  keyed($("grid"), all.filter((t) => t !== large), (t) => t.key, tileFor, (el, t) => updateTile(el, t, s, media));
  $("stage").classList.toggle("has-spotlight", Boolean(large));
  renderAudio(s, media);
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
  const words = [t.name, micOff && t.source === "camera" ? "microphone off" : "", speaking ? "speaking" : "",
    showing ? "" : "no video"].filter(Boolean);
  el.setAttribute("aria-label", words.join(", "));
}

function renderAudio(s, media) {
  keyed($("audio"), media.audible(s), (a) => a.key, () => h("audio", { autoplay: true }), (el, a) => attach(el, a.track));
}
