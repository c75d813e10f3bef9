// The console's recordings: their state and publishing progress; publishing
// with a visibility, pseudonyms and a trim chosen on a preview of the video;
// share links; deleting.
//
// Trim times are in the recording as it was made. The preview plays the
// package as last built, which starts at the trim it was built with, so a
// position in the preview is that trim's start plus the position.

import { $, clock, h, keyed } from "./dom.js";
import { acting, api, confirmed, offerLink, setStatus, when } from "./console_session.js";

const BUSY = new Set(["recording", "publishing"]);
const FOLLOW_MS = 2000;
const VISIBILITY = { private: "private", learners: "personal links", link: "share link" };

const path = (id, tail = "") => `/api/recordings/${encodeURIComponent(id)}${tail}`;

export class Recordings {
  // `openReport(id, title)`: show a published recording's report.
  constructor({ openReport }) {
    this.openReport = openReport;
    this.list = [];
    this.titles = new Map();
    this.open = null;
    this.trim = { start: null, end: null };
    this.following = null;
    $("publish-close").addEventListener("click", () => this.close());
    $("publish-form").addEventListener("submit", acting((ev) => this.publish(ev)));
    $("trim-start").addEventListener("click", () => this.setTrim("start"));
    $("trim-end").addEventListener("click", () => this.setTrim("end"));
    $("trim-clear").addEventListener("click", () => this.showTrim(null, null));
  }

  classesAre(list) {
    this.titles = new Map(list.map((c) => [c.id, c.title]));
  }

  async refresh() {
    this.list = (await api("/api/recordings")).recordings.sort((a, b) => (b.started_at ?? 0) - (a.started_at ?? 0));
    keyed($("recordings"), this.list, (r) => r.id, (r) => this.card(r), (el, r) => this.update(el, r));
    $("recordings-empty").hidden = this.list.length > 0;
    // Follow a build going on more closely than the page's own refresh.
    clearTimeout(this.following);
    if (this.list.some((r) => r.state === "publishing")) {
      this.following = setTimeout(() => { if (!$("panel-recordings").hidden) this.refresh().catch(() => {}); }, FOLLOW_MS);
    }
    if (this.open) {
      const now = this.list.find((r) => r.id === this.open.id);
      if (now && now.state !== this.open.state) this.preview(now);
    }
  }

  card(r) {
    const out = h("input", { class: "link-out", readonly: true, hidden: true, "aria-label": "Share link" });
    const el = h("li", { class: "card recording-card" },
      h("div", { class: "row" }, h("h3", { class: "rec-title" }),
        h("span", { class: "tags" }, h("span", { class: "tag state" }), h("span", { class: "tag visibility" }))),
      h("p", { class: "meta" }),
      h("progress", { class: "progress", max: "100", hidden: true }),
      h("p", { class: "meta error warn", hidden: true }),
      h("div", { class: "buttons" },
        h("button", { type: "button", class: "small publish-open", text: "Publish…", on: { click: acting(() => this.preview(el.item)) } }),
        h("button", { type: "button", class: "small share", text: "Share link", on: { click: acting(() => this.share(el.item, out)) } }),
        h("button", { type: "button", class: "small report-open", text: "Report", on: { click: acting(() => this.openReport(el.item.id, this.titleOf(el.item))) } }),
        h("button", { type: "button", class: "small danger delete", text: "Delete", on: { click: acting((e) => this.remove(el.item, e.currentTarget)) } })),
      out);
    return el;
  }

  update(el, r) {
    el.item = r;
    el.querySelector(".rec-title").textContent = this.titleOf(r);
    el.querySelector(".state").textContent = r.state ?? "unknown";
    el.querySelector(".visibility").textContent = VISIBILITY[r.visibility] ?? r.visibility;
    const made = r.started_at ? `Recorded ${when(r.started_at)}` : "";
    const length = r.manifest?.duration_ms ? ` · ${clock(r.manifest.duration_ms)}` : "";
    const stage = r.state === "publishing" ? ` · building: ${r.stage ?? "waiting"}${typeof r.percent === "number" ? ` ${Math.round(r.percent)}%` : ""}` : "";
    el.querySelector(".meta").textContent = `${made}${length}${stage}`;
    const bar = el.querySelector("progress");
    bar.hidden = r.state !== "publishing";
    if (typeof r.percent === "number") bar.value = r.percent;
    else bar.removeAttribute("value");
    const error = el.querySelector(".error");
    error.hidden = !r.error;
    error.textContent = r.error ? `Publishing failed: ${r.error}` : "";
    el.querySelector(".delete").disabled = BUSY.has(r.state);
    el.querySelector(".publish-open").disabled = r.state === "recording";
    el.querySelector(".report-open").hidden = r.state !== "published"; // a replay has a report
  }

  titleOf(r) {
    return r.title || this.titles.get(r.class_id) || r.id;
  }

  // The publish panel, with the package as last built playing in the preview.
  preview(r) {
    this.open = r;
    $("publish").hidden = false;
    $("publish-title").textContent = this.titleOf(r);
    const options = r.options ?? {};
    $("publish-visibility").value = r.visibility;
    $("publish-pseudonyms").checked = Boolean(options.pseudonyms);
    this.showTrim(options.trim_start_ms ?? null, options.trim_end_ms ?? null);
    this.offset = options.trim_start_ms ?? 0;
    const manifest = r.manifest;
    const file = manifest && (manifest.composite ?? manifest.tracks?.find((t) => t.kind === "video")?.file);
    const video = $("preview");
    const ready = r.state === "published" && file && manifest.files?.[file];
    video.hidden = !ready;
    if (ready && video.dataset.src !== manifest.files[file]) {
      video.dataset.src = manifest.files[file];
      video.src = manifest.files[file];
    }
    $("preview-note").textContent = ready
      ? "The preview plays the recording as last published. Pause where it should start or end."
      : r.state === "publishing" ? "The preview is being built…" : "No preview: nothing of this recording is built yet.";
    $("publish").scrollIntoView({ block: "nearest" });
  }

  close() {
    this.open = null;
    $("publish").hidden = true;
    $("preview").pause();
  }

  setTrim(which) {
    const at = this.offset + Math.round($("preview").currentTime * 1000);
    if (which === "start") this.showTrim(at, this.trim.end !== null && this.trim.end <= at ? null : this.trim.end);
    else this.showTrim(this.trim.start !== null && this.trim.start >= at ? null : this.trim.start, at);
  }

  showTrim(start, end) {
    this.trim = { start, end };
    $("trim-from").textContent = start === null ? "the start" : clock(start);
    $("trim-to").textContent = end === null ? "the end" : clock(end);
  }

  async publish(ev) {
    ev.preventDefault();
    const r = this.open;
    const body = {
      visibility: $("publish-visibility").value,
      pseudonyms: $("publish-pseudonyms").checked,
      trim_start_ms: this.trim.start,
      trim_end_ms: this.trim.end,
    };
    const now = await api(path(r.id, "/publish"), { method: "POST", body });
    setStatus(`Publishing "${$("publish-title").textContent}": ${VISIBILITY[now.visibility]}.`);
    this.close();
    await this.refresh();
  }

  async share(r, field) {
    const shared = await api(path(r.id, "/share"), { method: "POST", body: {} });
    await offerLink(field, shared.link, "The share link");
    if (shared.visibility !== "link") setStatus("The share link works once the recording is published for anyone with the share link.", "warn");
  }

  async remove(r, button) {
    if (!confirmed(button, "Confirm: delete for good")) return;
    await api(path(r.id), { method: "DELETE" });
    if (this.open?.id === r.id) this.close();
    setStatus("Recording deleted.");
    await this.refresh();
  }
}
