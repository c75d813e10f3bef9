// The console's classes: create one (with a scheduled start in a time zone),
// the lists of live, upcoming and ended classes, their links, personal links
// for a roster, and ending a class.

import { $, h, keyed, timeOfDay } from "./dom.js";
import { acting, api, confirmed, download, offerLink, setStatus, slug, when } from "./console_session.js";

const STATES = ["live", "upcoming", "ended"];

function zones() {
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const all = new Set(Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : []);
  all.add("UTC");
  all.add(here);
  const select = $("class-zone");
  select.replaceChildren(...[...all].sort().map((zone) => h("option", { value: zone, text: zone })));
  select.value = here;
}

function describe(c) {
  switch (c.state) {
    case "live":
      return `Live since ${timeOfDay(c.started_at)} · ${c.present} present · ${c.people} came`;
    case "ended":
      return `Ended ${when(c.ended_at)} · ${c.people} came`;
    default: {
      if (c.scheduled_at === null) return "Not scheduled · nobody has joined yet";
      const there = when(c.scheduled_at, c.time_zone);
      const here = when(c.scheduled_at);
      return there === here ? `Starts ${there} (${c.time_zone})` : `Starts ${there} (${c.time_zone}), ${here} here`;
    }
  }
}

export class Classes {
  constructor({ openReport, changed }) {
    this.list = [];
    this.openReport = openReport;
    this.changed = changed;
    this.rosterFor = null;
    zones();
    $("new-class").addEventListener("submit", acting((ev) => this.create(ev)));
    $("roster-close").addEventListener("click", () => { $("roster").hidden = true; });
    $("roster-file").addEventListener("change", acting(() => this.readFile()));
    $("roster-make").addEventListener("click", acting(() => this.makeLinks()));
    $("roster-download").addEventListener("click", acting(() => this.downloadLinks()));
  }

  async refresh() {
    this.list = (await api("/api/classes")).classes;
    for (const state of STATES) {
      const items = this.list.filter((c) => c.state === state);
      keyed($(`classes-${state}`), items, (c) => c.id, (c) => this.card(c), (el, c) => this.update(el, c));
      $(`empty-${state}`).hidden = items.length > 0;
      $(`count-${state}`).textContent = items.length ? `(${items.length})` : "";
    }
    this.changed(this.list);
  }

  async create(ev) {
    ev.preventDefault();
    const body = { title: $("class-title").value.trim(), media: $("class-media").value };
    if ($("class-start").value) {
      body.starts_at = $("class-start").value;
      body.time_zone = $("class-zone").value;
    }
    if ($("class-capacity").value) body.capacity = Number($("class-capacity").value);
    const created = await api("/api/classes", { method: "POST", body });
    $("new-class").reset();
    zones();
    setStatus(`Created "${body.title}".`);
    await this.refresh();
    $("classes-upcoming").querySelector(`[data-key="${created.id}"] button`)?.focus();
  }

  card(c) {
    const out = h("input", { class: "link-out", readonly: true, hidden: true, "aria-label": "Link" });
    const el = h("li", { class: "card class-card" },
      h("div", { class: "row" },
        h("h3", { class: "class-title" }),
        h("span", { class: "tags" }, h("span", { class: "tag state" }), h("span", { class: "tag media" }), h("span", { class: "tag capacity" }))),
      h("p", { class: "meta" }),
      h("div", { class: "buttons" },
        h("button", { type: "button", class: "small host-link", text: "Host link", on: { click: acting(() => this.link(el, "host", out)) } }),
        h("button", { type: "button", class: "small invite-link", text: "Invite link", on: { click: acting(() => this.link(el, "participant", out)) } }),
        h("button", { type: "button", class: "small roster-open", text: "Personal links…", on: { click: () => this.openRoster(el.item) } }),
        h("button", { type: "button", class: "small report-open", text: "Report", on: { click: () => this.openReport(el.item.id) } }),
        h("button", { type: "button", class: "small danger end", text: "End class", on: { click: acting((e) => this.end(el, e.currentTarget)) } })),
      out);
    return el;
  }

  update(el, c) {
    el.item = c;
    el.querySelector(".class-title").textContent = c.title;
    el.querySelector(".state").textContent = c.state;
    el.querySelector(".media").textContent = c.media === "mesh" ? "peer to peer" : "";
    el.querySelector(".capacity").textContent = c.capacity ? `up to ${c.capacity}` : "";
    el.querySelector(".meta").textContent = describe(c);
    const ended = c.state === "ended";
    for (const sel of [".host-link", ".invite-link", ".roster-open", ".end"]) el.querySelector(sel).hidden = ended;
    const end = el.querySelector(".end");
    if (!end.dataset.confirm) end.textContent = c.state === "upcoming" ? "Cancel class" : "End class";
    el.querySelector(".report-open").hidden = c.state === "upcoming";
  }

  async link(el, which, field) {
    const links = await api(`/api/classes/${encodeURIComponent(el.item.id)}/links`, { method: "POST", body: {} });
    await offerLink(field, links[which], which === "host" ? "The host link" : "The invite link");
  }

  async end(el, button) {
    const upcoming = el.item.state === "upcoming";
    if (!confirmed(button, upcoming ? "Confirm: cancel it" : "Confirm: end it for everyone")) return;
    await api(`/api/classes/${encodeURIComponent(el.item.id)}/end`, { method: "POST" });
    setStatus(`${upcoming ? "Cancelled" : "Ended"} "${el.item.title}".`);
    await this.refresh();
  }

  openRoster(c) {
    this.rosterFor = c;
    $("roster-class").textContent = c.title;
    $("roster").hidden = false;
    $("roster-links").hidden = true;
    $("roster-download").hidden = true;
    $("roster-note").hidden = true;
    $("roster-text").focus();
  }

  async readFile() {
    const file = $("roster-file").files[0];
    if (file) $("roster-text").value = await file.text();
  }

  rosterRequest() {
    return { csv: $("roster-text").value, role: $("roster-role").value };
  }

  async makeLinks() {
    const c = this.rosterFor;
    const made = await api(`/api/classes/${encodeURIComponent(c.id)}/roster`, { method: "POST", body: this.rosterRequest() });
    const rows = made.links.map((p) => h("tr", {},
      h("td", { text: p.name }),
      h("td", { text: p.user_id }),
      h("td", {}, h("input", { class: "link-out", readonly: true, value: p.link, "aria-label": `Link for ${p.name}` }))));
    $("roster-links").querySelector("tbody").replaceChildren(...rows);
    $("roster-links").hidden = false;
    $("roster-download").hidden = false;
    $("roster-note").hidden = false;
    $("roster-note").textContent = `${made.links.length} personal links, valid until ${when(made.expires_at * 1000)}. Each works for its person only: send it to them alone.`;
    setStatus(`${made.links.length} links made for "${c.title}".`);
  }

  async downloadLinks() {
    const c = this.rosterFor;
    const path = `/api/classes/${encodeURIComponent(c.id)}/roster`;
    await download(path, `links-${slug(c.title)}.csv`, { method: "POST", body: this.rosterRequest(), query: { format: "csv" } });
  }
}
