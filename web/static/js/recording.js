// The recording indicator (everyone) and the host's recording controls.
// Hosts and moderators get a link to the last recording: their join token is
// traded for a replay token of it (recordings are private until shared).

import { $, h, setText } from "./dom.js";
import { amStaff } from "./state.js";

const LABEL = { recording: "Recording", paused: "Recording paused" };

export function setup(ctx) {
  const control = async (event) => {
    const ack = await ctx.send(event, {});
    if (!ack.ok) ctx.notify(`Recording: ${ack.error?.message ?? "error"}`, "warn");
  };
  const buttons = {
    start: h("button", { type: "button", class: "small", text: "Start recording", on: { click: () => control("recording:start") } }),
    pause: h("button", { type: "button", class: "small", text: "Pause", on: { click: () => control("recording:pause") } }),
    resume: h("button", { type: "button", class: "small", text: "Resume", on: { click: () => control("recording:resume") } }),
    stop: h("button", { type: "button", class: "small", text: "Stop recording", on: { click: () => control("recording:stop") } }),
  };
  const markInput = h("input", { id: "rec-mark-title", maxlength: 200, placeholder: "Chapter title", autocomplete: "off" });
  const mark = h("form", { class: "inline", id: "rec-mark" },
    h("label", { class: "sr-only", for: "rec-mark-title", text: "Chapter title" }), markInput,
    h("button", { type: "submit", class: "small", text: "Add chapter" }));
  mark.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const title = markInput.value.trim();
    if (!title) return;
    const ack = await ctx.send("recording:marker", { title });
    if (ack.ok) { markInput.value = ""; ctx.notify(`Chapter "${title}" marked.`, "ok"); }
    else ctx.notify(`Chapter not marked: ${ack.error?.message ?? "error"}`, "warn");
  });
  $("rec-controls").append(...Object.values(buttons), mark);
  let announced = "idle";
  const link = { id: null, href: null };
  const linkTo = async (id) => {
    Object.assign(link, { id, href: null });
    const res = await fetch(`/api/recordings/${encodeURIComponent(id)}/tokens`, {
      method: "POST", headers: { Authorization: `Bearer ${ctx.token}` },
    });
    if (!res.ok || link.id !== id) return;
    const { token } = await res.json();
    link.href = `/replay/${encodeURIComponent(id)}#token=${token}`;
    ctx.refresh();
  };

  return function render(s) {
    const state = s.recording?.state ?? "idle";
    const indicator = $("rec-indicator");
    indicator.hidden = state === "idle";
    indicator.classList.toggle("paused", state === "paused");
    setText(indicator, LABEL[state] ?? "");
    const host = s.you?.role === "host";
    $("rec-controls").hidden = !host;
    buttons.start.hidden = state !== "idle";
    buttons.pause.hidden = state !== "recording";
    buttons.resume.hidden = state !== "paused";
    buttons.stop.hidden = state === "idle";
    mark.hidden = state !== "recording";
    const id = s.recording?.recording_id;
    const offered = amStaff(s) && state === "idle" && id;
    if (offered && link.id !== id) linkTo(id);
    $("rec-link").hidden = !(offered && link.id === id && link.href);
    if (link.href) $("rec-link").href = link.href;
    if (state !== announced) {
      if (announced !== "idle" || state !== "idle") {
        ctx.notify(state === "recording" ? "This class is being recorded." : state === "paused"
          ? "Recording paused." : "Recording stopped.", "ok");
      }
      announced = state;
    }
  };
}
