// The class report's charts, drawn on canvases by the vendored Chart.js
// (scripts/vendor-charts.sh; it defines the global `Chart`). Labels are drawn
// as canvas text, so nothing a person typed ever becomes markup.

import { timeOfDay } from "./dom.js";

const { Chart } = window;
const MOST_PEOPLE = 30;
const ROW_PX = 22;

// Figures, not animations (and nothing moves for those who asked for less motion).
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

export function colours() {
  const css = getComputedStyle(document.documentElement);
  const get = (name) => css.getPropertyValue(name).trim();
  return { fg: get("--fg"), muted: get("--muted"), line: get("--line"), accent: get("--accent"), ok: get("--ok"), warn: get("--warn"), danger: get("--danger") };
}

// Dashed lines where polls opened, with the poll's number in the list below the charts.
export const pollMarks = {
  id: "pollMarks",
  afterDatasetsDraw(chart, _args, options) {
    const { ctx, chartArea, scales } = chart;
    ctx.save();
    ctx.strokeStyle = ctx.fillStyle = options.color;
    ctx.setLineDash([4, 4]);
    ctx.font = "12px system-ui, sans-serif";
    for (const [n, mark] of (options.marks ?? []).entries()) {
      const x = scales.x.getPixelForValue(mark.index);
      ctx.beginPath();
      ctx.moveTo(x, chartArea.top);
      ctx.lineTo(x, chartArea.bottom);
      ctx.stroke();
      ctx.fillText(mark.label, x + 3, chartArea.top + 12 + 14 * (n % 2));
    }
    ctx.restore();
  },
};

export const count = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;

export function axes(c, extra = {}) {
  const grid = { color: c.line };
  const ticks = { color: c.muted, maxRotation: 0, autoSkipPadding: 12 };
  return { x: { grid, ticks, ...extra.x }, y: { grid, ticks: { ...ticks, precision: 0 }, beginAtZero: true, ...extra.y } };
}

export function draw(canvas, config, label) {
  Chart.getChart(canvas)?.destroy();
  canvas.setAttribute("aria-label", label);
  return new Chart(canvas, config);
}

function presence(report, c) {
  const { buckets, bucket_ms: width, moments } = report.timeline;
  const first = buckets[0]?.t ?? 0;
  const number = new Map(report.polls.map((p, i) => [p.poll_id, i + 1]));
  const marks = moments.filter((m) => m.kind === "poll.opened").map((m) => ({
    index: Math.min(buckets.length - 1, Math.max(0, Math.floor((m.t - first) / width))),
    label: String(number.get(m.id) ?? "?"),
  }));
  const peak = Math.max(0, ...buckets.map((b) => b.present));
  const span = buckets.length ? `from ${timeOfDay(first)} to ${timeOfDay(buckets.at(-1).t + width)}` : "";
  draw(document.getElementById("chart-presence"), {
    type: "line",
    data: {
      labels: buckets.map((b) => timeOfDay(b.t)),
      datasets: [{ label: "People present", data: buckets.map((b) => b.present), stepped: true, fill: true, borderColor: c.accent, backgroundColor: `${c.accent}33`, pointRadius: 0 }],
    },
    options: { scales: axes(c), plugins: { legend: { display: false }, pollMarks: { marks, color: c.warn } } },
    plugins: [pollMarks],
  }, `People present ${span}: at most ${peak}; ${count(marks.length, "poll")} opened.`);
}

function activity(report, c) {
  const { buckets } = report.timeline;
  const chat = buckets.reduce((n, b) => n + b.chat, 0);
  const reactions = buckets.reduce((n, b) => n + b.reactions, 0);
  draw(document.getElementById("chart-activity"), {
    type: "bar",
    data: {
      labels: buckets.map((b) => timeOfDay(b.t)),
      datasets: [
        { label: "Chat messages", data: buckets.map((b) => b.chat), backgroundColor: c.accent },
        { label: "Reactions", data: buckets.map((b) => b.reactions), backgroundColor: c.warn },
      ],
    },
    options: { scales: axes(c), plugins: { legend: { labels: { color: c.fg } } } },
  }, `${count(chat, "chat message")} and ${count(reactions, "reaction")} over the class.`);
}

const DID = [
  ["chat", "Chat messages", "accent"],
  ["hands", "Hands raised", "warn"],
  ["reactions", "Reactions", "danger"],
  ["polls_answered", "Polls answered", "ok"],
  ["questions", "Questions asked", "muted"],
];

function people(report, c) {
  const total = (p) => DID.reduce((n, [key]) => n + p[key], 0);
  const ranked = [...report.participation].sort((a, b) => total(b) - total(a)).slice(0, MOST_PEOPLE);
  const box = document.getElementById("people-box");
  box.style.height = `${Math.max(4, ranked.length) * ROW_PX + 60}px`;
  const more = report.participation.length - ranked.length;
  document.getElementById("people-note").textContent = more > 0 ? `(the ${ranked.length} most active of ${report.participation.length})` : "";
  draw(document.getElementById("chart-people"), {
    type: "bar",
    data: {
      labels: ranked.map((p) => p.name),
      datasets: DID.map(([key, label, colour]) => ({ label, data: ranked.map((p) => p[key]), backgroundColor: c[colour] })),
    },
    options: {
      indexAxis: "y",
      scales: axes(c, { x: { stacked: true }, y: { stacked: true, ticks: { color: c.muted, autoSkip: false } } }),
      plugins: { legend: { labels: { color: c.fg } } },
    },
  }, `What each person did: ${ranked.map((p) => `${p.name} ${total(p)}`).join(", ")}.`);
}

export function drawCharts(report) {
  const c = colours();
  presence(report, c);
  activity(report, c);
  people(report, c);
}
