// A recording's report in the console: who watched it and how much of it, a
// chart of the learners along its length (which parts they watched, what
// they watched again, where they stopped), and each poll's two cohorts, the
// class's and the replay's, side by side. Everything a person typed (names,
// questions, options, words) goes in as text or is drawn on a canvas.

import { $, clock, h } from "./dom.js";
import { axes, colours, count, draw, pollMarks } from "./console_charts.js";
import { acting, api, download, setStatus, slug } from "./console_session.js";

const path = (id, tail) => `/api/recordings/${encodeURIComponent(id)}${tail}`;
const share = (part, whole) => (whole ? `${Math.round((100 * part) / whole)}%` : "");
const ROW_PX = 34;
const LABEL_CHARS = 48;

function summary(r) {
  const learners = r.viewers.filter((v) => v.role === "viewer");
  const mean = learners.reduce((n, v) => n + v.coverage, 0) / (learners.length || 1);
  const parts = [`${count(learners.length, "learner")} watched it`];
  if (learners.length) parts.push(`on average ${Math.round(mean * 100)}% of its ${clock(r.duration_ms)}`);
  parts.push(`${count(r.questions, "question")} asked, ${r.answered} answered`);
  return `${parts.join(" · ")}.`;
}

function coverageChart(r, c) {
  const { buckets, bucket_ms: width, learners } = r.coverage;
  // The last bucket is what is left of the recording, so may be shorter.
  const length = (b) => Math.max(1, Math.min(width, r.duration_ms - b.at_ms));
  const marks = r.polls.map((p, i) => ({
    index: Math.min(buckets.length - 1, Math.floor(p.at_ms / width)),
    label: String(i + 1),
  }));
  const most = Math.max(0, ...buckets.map((b) => b.viewers));
  const again = buckets.reduce((n, b) => n + b.again_ms, 0);
  const line = (colour) => ({ type: "line", borderColor: colour, backgroundColor: colour, pointRadius: 0, borderWidth: 2, order: 1 });
  draw($("chart-coverage"), {
    type: "bar",
    data: {
      labels: buckets.map((b) => clock(b.at_ms)),
      datasets: [
        { label: "Learners who watched it", data: buckets.map((b) => b.viewers), backgroundColor: `${c.accent}99`, barPercentage: 1, categoryPercentage: 1, order: 2 },
        { label: "Watched again (times through)", data: buckets.map((b) => Math.round((100 * b.again_ms) / length(b)) / 100), ...line(c.warn) },
        { label: "Stopped here", data: buckets.map((b) => b.stopped), stepped: "middle", ...line(c.danger) },
      ],
    },
    options: {
      scales: axes(c),
      plugins: { legend: { labels: { color: c.fg } }, pollMarks: { marks, color: c.muted } },
    },
    plugins: [pollMarks],
  }, `Learners along the recording: at most ${most} of ${learners} on a part; ${clock(again)} watched again; ${count(marks.length, "poll")}.`);
}

function label(p, i) {
  const text = `${i + 1}. ${p.question}`;
  return text.length > LABEL_CHARS ? `${text.slice(0, LABEL_CHARS - 1)}…` : text;
}

function cohortsChart(r, c) {
  $("cohorts-box").style.height = `${Math.max(3, r.polls.length) * ROW_PX + 60}px`;
  const live = r.polls.reduce((n, p) => n + p.live_voters, 0);
  const later = r.polls.reduce((n, p) => n + p.async_voters, 0);
  draw($("chart-cohorts"), {
    type: "bar",
    data: {
      labels: r.polls.map(label),
      datasets: [
        { label: "In class", data: r.polls.map((p) => p.live_voters), backgroundColor: c.accent },
        { label: "On the replay", data: r.polls.map((p) => p.async_voters), backgroundColor: c.ok },
      ],
    },
    options: {
      indexAxis: "y",
      scales: axes(c, { y: { ticks: { color: c.muted, autoSkip: false } } }),
      plugins: { legend: { labels: { color: c.fg } } },
    },
  }, `Answers to ${count(r.polls.length, "poll")}: ${live} in class, ${later} on the replay.`);
}

// One row per answer: its count and share of the voters in each cohort.
function answerRows(p) {
  const live = p.live_results;
  const later = p.async_results;
  const cells = (n, results) => (results ? `${n} (${share(n, results.voters) || "0%"})` : "–");
  if (p.kind === "text") {
    const words = new Map();
    for (const [word, n] of live?.words ?? []) words.set(word, [n, 0]);
    for (const [word, n] of later.words) words.set(word, [words.get(word)?.[0] ?? 0, n]);
    return [...words].map(([word, [a, b]]) => [word, cells(a, live), cells(b, later)]);
  }
  const names = p.kind === "rating"
    ? later.counts.map((_, i) => String(i + (p.min ?? 1)))
    : p.options;
  const rows = names.map((name, i) => [
    p.correct?.includes(i) ? `${name} ✓` : name,
    cells(live?.counts[i] ?? 0, live),
    cells(later.counts[i] ?? 0, later),
  ]);
  if (p.kind === "rating") rows.push(["Mean", live?.mean ?? "–", later.mean ?? "–"].map(String));
  return rows;
}

function pollItem(p, i) {
  const right = (n, voters) => (n === null ? "–" : `${n} (${share(n, voters) || "0%"})`);
  const rows = answerRows(p);
  rows.push(["Answered", String(p.live_voters), String(p.async_voters)]);
  if (p.correct) rows.push(["Right", right(p.live_correct, p.live_voters), right(p.async_correct, p.async_voters)]);
  return h("li", { dataset: { pollId: p.poll_id } },
    h("p", {},
      h("span", { class: "text", text: p.question }),
      h("span", { class: "muted", text: ` · at ${clock(p.at_ms)}` }),
      p.quiz ? h("span", { class: "tag", text: "quiz" }) : null,
      p.anonymous ? h("span", { class: "tag", text: "anonymous" }) : null),
    h("table", { class: "table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", text: p.kind === "text" ? "Word" : "Answer" }),
        h("th", { scope: "col", text: "In class" }),
        h("th", { scope: "col", text: "On the replay" }))),
      h("tbody", {}, rows.map(([name, a, b]) => h("tr", {},
        h("th", { scope: "row", text: name }), h("td", { text: a }), h("td", { text: b }))))));
}

function viewerRow(v) {
  return h("tr", {},
    h("th", { scope: "row", text: v.name }),
    h("td", { text: v.role }),
    h("td", { text: String(v.visits) }),
    h("td", { text: clock(v.watched_ms) }),
    h("td", { text: `${Math.round(v.coverage * 100)}%` }),
    h("td", { text: String(v.polls_answered) }),
    h("td", { text: String(v.quiz_correct) }),
    h("td", { text: String(v.questions) }));
}

export class RecordingReport {
  constructor() {
    this.id = null;
    this.title = "";
    $("rec-report-close").addEventListener("click", () => this.close());
    $("rec-report-refresh").addEventListener("click", acting(() => this.load()));
    const save = (tail, name) => acting(() => download(path(this.id, tail), `${slug(this.title)}-${name}`));
    $("rec-export-report").addEventListener("click", save("/report", "viewing.json"));
    $("rec-export-xapi").addEventListener("click", save("/xapi", "viewing-xapi.json"));
  }

  async show(id, title) {
    this.id = id;
    this.title = title;
    $("rec-report-title").textContent = title;
    $("recording-report").hidden = false;
    await this.load();
    $("recording-report").scrollIntoView({ block: "nearest" });
  }

  close() {
    this.id = null;
    $("recording-report").hidden = true;
  }

  async load() {
    setStatus("Loading the recording's report…");
    const r = await api(path(this.id, "/report"));
    const c = colours();
    $("rec-report-summary").textContent = summary(r);
    coverageChart(r, c);
    cohortsChart(r, c);
    $("rec-polls").replaceChildren(...r.polls.map(pollItem));
    $("rec-polls-empty").hidden = r.polls.length > 0;
    $("rec-viewers").querySelector("tbody").replaceChildren(...r.viewers.map(viewerRow));
    $("rec-viewers-empty").hidden = r.viewers.length > 0;
    $("recording-report").dataset.recordingId = r.recording_id;
    setStatus(`Report of the recording "${this.title}".`);
  }
}
