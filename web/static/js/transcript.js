// Captions and the transcript on the replay page. Each captions file of the
// manifest becomes a <track kind="captions"> of the video (off until the
// viewer turns it on, from the player's captions button); transcript.json
// becomes the Transcript panel: one line per caption, with its time and
// speaker, each a button that plays from there; the line being said is
// marked, lines still to come are dimmed, and the replay's search filters
// them. Names and words only ever reach the page through textContent.

import { $, clock, h, setText } from "./dom.js";

function languageName(code) {
  try {
    return new Intl.DisplayNames([navigator.language || "en"], { type: "language" }).of(code) ?? code;
  } catch {
    return code; // "und", or a code the browser does not know
  }
}

export class Transcript {
  // `seek(t)` plays from recording time t (ms). Captions come with the composite video,
  // whose time is the recording's.
  constructor(manifest, video, seek) {
    this.manifest = manifest;
    this.video = video;
    this.seek = seek;
    this.cues = [];
    this.query = "";
  }

  async start() {
    this.addTracks();
    const file = this.manifest.transcript;
    $("transcript-note").hidden = !file;
    if (!file) return;
    const res = await fetch(this.manifest.files[file]);
    if (!res.ok) return;
    const body = await res.json();
    this.cues = (body.cues ?? []).filter((c) => typeof c.text === "string" && typeof c.t === "number");
    this.renderLines();
  }

  addTracks() {
    const captions = this.manifest.captions ?? [];
    for (const c of captions) {
      this.video.append(h("track", {
        kind: "captions",
        src: this.manifest.files[c.file],
        srclang: c.language,
        label: `${languageName(c.language)} (automatic)`,
      }));
    }
  }

  renderLines() {
    $("transcript-empty").hidden = this.cues.length > 0;
    let previous = null;
    const items = this.cues.map((c) => {
      const who = c.user_id !== previous ? h("span", { class: "who", text: c.speaker ?? "Someone" }) : null;
      previous = c.user_id;
      const line = h("button", { type: "button", class: "seek", on: { click: () => this.seek(c.t) } },
        h("span", { class: "t", text: clock(c.t) }), who, h("span", { class: "text", text: c.text }));
      return h("li", { dataset: { t: c.t, end: c.end ?? c.t } }, line);
    });
    $("transcript").replaceChildren(...items);
  }

  // The line said at `t` is current; lines after it are dimmed.
  render(t) {
    for (const li of $("transcript").children) {
      const start = Number(li.dataset.t);
      li.classList.toggle("future", start > t);
      const now = start <= t && t < Number(li.dataset.end);
      if (now) li.setAttribute("aria-current", "true");
      else li.removeAttribute("aria-current");
    }
  }

  // Show only the lines that hold `query` (all of them when it is empty); returns how many.
  search(query) {
    this.query = query;
    let shown = 0;
    this.cues.forEach((c, i) => {
      const hit = !query || c.text.toLowerCase().includes(query) || (c.speaker ?? "").toLowerCase().includes(query);
      $("transcript").children[i].hidden = !hit;
      if (hit) shown += 1;
    });
    setText($("transcript-empty"), this.cues.length ? "No line of the transcript matches." : "No transcript.");
    $("transcript-empty").hidden = shown > 0;
    return query ? shown : 0;
  }
}
