// Before joining: pick a camera and microphone, see yourself, choose to join
// muted or with the camera off. Joining without any device is possible too.

import { $, h } from "./dom.js";
import { Media } from "./media.js";

async function fillDevices() {
  const { audio, video } = await Media.devices();
  const fill = (select, devices, noun) => {
    const chosen = select.value;
    select.replaceChildren(
      h("option", { value: "", text: `Default ${noun}` }),
      ...devices.filter((d) => d.deviceId && d.deviceId !== "default")
        .map((d, i) => h("option", { value: d.deviceId, text: d.label || `${noun} ${i + 1}` })),
      h("option", { value: "none", text: `No ${noun}` }));
    select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
  };
  fill($("video-device"), video, "camera");
  fill($("audio-device"), audio, "microphone");
}

export async function setupPrejoin(media, { setStatus }) {
  $("prejoin").hidden = false;
  setStatus("Check your camera and microphone, then join.");
  const preview = $("preview");
  const error = $("device-error");

  const showPreview = () => {
    const cam = media.track("video");
    const on = Boolean(cam) && !$("join-camera-off").checked;
    preview.srcObject = on ? media.local : null;
    preview.hidden = !on;
    $("preview-off").hidden = on;
  };

  const join = $("join");
  const acquire = async () => {
    join.disabled = true;
    error.hidden = true;
    try {
      await media.acquire({ audioId: $("audio-device").value, videoId: $("video-device").value });
    } catch (err) {
      media.releaseLocal();
      error.hidden = false;
      error.textContent = `Your camera or microphone could not be used (${err.name ?? "error"}). `
        + "You can still join to watch, listen and chat.";
    }
    showPreview();
    join.disabled = false;
  };
  const joined = new Promise((resolve) => join.addEventListener("click", resolve, { once: true }));

  await acquire();
  try { await fillDevices(); } catch { /* device names stay generic */ }
  $("video-device").addEventListener("change", acquire);
  $("audio-device").addEventListener("change", acquire);
  $("join-camera-off").addEventListener("change", showPreview);

  await joined;
  media.mic = !$("join-muted").checked;
  media.cam = !$("join-camera-off").checked;
  const cam = media.track("video");
  const mic = media.track("audio");
  if (cam) cam.enabled = media.cam;
  if (mic) mic.enabled = media.mic;
  preview.srcObject = null;
  $("prejoin").hidden = true;
}
