// A class's report in the console: what happened, its charts, its polls and
// who came; and its exports (attendance and ballots as CSV, xAPI statements,
// the whole report as JSON), saved as files.

import { $, clock, h, timeOfDay } from "./dom.js";
import { drawCharts } from "./console_charts.js";
import { acting, api, download, setStatus, slug, when } from "./console_session.js";

const path = (id, tail) => `/api/classes/${encodeURIComponent(id)}${tail}`;

function summary(r) {
  const parts = [`${r.people} ${r.people === 1 ? "person" : "people"} came, at most ${r.peak_present} at once`];
  if (r.started_at !== null) parts.push(`started ${when(r.started_at)}`);
  parts.push(r.ended_at !== null ? `ended after ${clock(r.duration_ms)}` : `going on for ${clock(r.duration_ms)}`);
  return `${parts.join(" · ")}.`;
}

// Numbered as on the presence chart's marks.
function pollLine(p, i) {
  const at = `${i + 1}. ${p.opened_at ? timeOfDay(p.opened_at) : ""} `;
  const voters = `${p.results.voters} answered`;
  const quiz = p.quiz && p.correct_voters !== null ? `, ${p.correct_voters} right` : "";
  return h("li", {},
    h("span", { class: "when", text: at }),
    h("span", { class: "text", text: p.question }),
    h("span", { class: "muted", text: ` · ${voters}${quiz}` }),
    p.anonymous ? h("span", { class: "tag", text: "anonymous" }) : null);
}

function attendanceRow(a, did) {
  const came = timeOfDay(a.first_joined_at) + (a.late ? " (late)" : "");
  const left = a.last_left_at === null ? "still here" : timeOfDay(a.last_left_at) + (a.left_early ? " (early)" : "");
  return h("tr", {},
    h("th", { scope: "row", text: a.name }),
    h("td", { text: a.role }),
    h("td", { text: clock(a.present_ms) }),
    h("td", { text: came }),
    h("td", { text: left }),
    h("td", { text: String(did?.chat ?? 0) }),
    h("td", { text: String(did?.polls_answered ?? 0) }));
}

export class Report {
  constructor() {
    this.classes = [];
    $("report-class").addEventListener("change", acting(() => this.load()));
    $("report-refresh").addEventListener("click", acting(() => this.load()));
    const save = (tail, name, query) => acting(() => download(path(this.classId, tail), this.fileName(name), { query }));
    $("export-attendance").addEventListener("click", save("/report", "attendance.csv", { format: "csv" }));
    $("export-polls").addEventListener("click", save("/polls.csv", "polls.csv"));
    $("export-xapi").addEventListener("click", save("/xapi", "xapi.json"));
    $("export-report").addEventListener("click", save("/report", "report.json"));
  }

  get classId() {
    return $("report-class").value;
  }

  fileName(name) {
    const c = this.classes.find((x) => x.id === this.classId);
    return `${slug(c?.title ?? this.classId)}-${name}`;
  }

  // Classes with something to report: those that have started.
  classesAre(list) {
    this.classes = list.filter((c) => c.state !== "upcoming");
    const select = $("report-class");
    const chosen = select.value;
    select.replaceChildren(h("option", { value: "", text: "Choose a class" }),
      ...this.classes.map((c) => h("option", { value: c.id, text: `${c.title} (${c.state})` })));
    select.value = this.classes.some((c) => c.id === chosen) ? chosen : "";
  }

  async show(classId) {
    if (![...$("report-class").options].some((o) => o.value === classId)) {
      $("report-class").append(h("option", { value: classId, text: classId }));
    }
    $("report-class").value = classId;
    await this.load();
  }

  async load() {
    const id = this.classId;
    $("report").hidden = !id;
    $("report-empty").hidden = Boolean(id);
    if (!id) return;
    setStatus("Loading the report…");
    const report = await api(path(id, "/report"));
    $("report-summary").textContent = summary(report);
    drawCharts(report);
    $("report-polls").replaceChildren(...report.polls.map(pollLine));
    $("polls-empty").hidden = report.polls.length > 0;
    const did = new Map(report.participation.map((p) => [p.user_id, p]));
    $("attendance").querySelector("tbody").replaceChildren(...report.attendance.map((a) => attendanceRow(a, did.get(a.user_id))));
    $("report").dataset.classId = id;
    setStatus(`Report of "${report.title}", as of ${timeOfDay(report.as_of)}.`);
  }
}
