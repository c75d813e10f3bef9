// Polls. Hosts and moderators create, open, close, show results and publish,
// and watch live bar charts; participants vote, see results once shown, and
// get quiz feedback when the poll is published. Also used read-only by the replay.

import { $, bars, h, keyed, setText } from "./dom.js";
import { amStaff } from "./state.js";

const STATUS = { draft: "Draft", open: "Open", closed: "Closed", published: "Published" };
const CHOICE = new Set(["single", "multiple", "truefalse"]);

function labels(poll) {
  if (poll.kind === "rating") {
    const out = [];
    for (let v = poll.min ?? 1; v <= (poll.max ?? 5); v += 1) out.push(String(v));
    return out;
  }
  return poll.options ?? [];
}

function describe(answer, poll) {
  if (Array.isArray(answer)) return answer.map((i) => poll.options?.[i] ?? `#${i + 1}`).join(", ");
  return String(answer);
}

// The results part of a poll card: bars, a rating mean or a word cloud.
export function resultsView(poll) {
  const r = poll.results;
  if (!r) return h("p", { class: "muted", text: poll.status === "open" ? "Results are hidden for now." : "No results shown." });
  const summary = h("p", { class: "summary", text: `${r.voters} ${r.voters === 1 ? "vote" : "votes"}` });
  if (poll.kind === "text") {
    const max = Math.max(1, ...(r.words ?? []).map((w) => w.count));
    const cloud = h("ul", { class: "cloud", "aria-label": "Most frequent words" }, (r.words ?? []).map((w) => {
      const li = h("li", { text: `${w.word} (${w.count})` });
      li.style.fontSize = `${0.9 + (1.2 * w.count) / max}rem`;
      return li;
    }));
    return h("div", { class: "results" }, summary, cloud);
  }
  const chart = bars(labels(poll), r.counts ?? [], { correct: poll.status === "published" || poll.correct ? poll.correct ?? [] : [] });
  const mean = poll.kind === "rating" && r.mean != null ? h("p", { class: "summary", text: `Average ${r.mean}` }) : null;
  return h("div", { class: "results" }, summary, mean, chart);
}

function voteForm(ctx, poll) {
  const name = `vote-${poll.id}`;
  let field;
  if (CHOICE.has(poll.kind)) {
    const type = poll.kind === "multiple" ? "checkbox" : "radio";
    field = h("fieldset", {}, h("legend", { class: "sr-only", text: poll.question }),
      poll.options.map((opt, i) => h("label", { class: "choice" },
        h("input", { type, name, value: String(i) }), h("span", { text: opt }))));
  } else if (poll.kind === "rating") {
    const select = h("select", { id: `${name}-in`, name }, labels(poll).map((v) => h("option", { value: v, text: v })));
    field = h("p", {}, h("label", { for: `${name}-in`, text: `Your rating (${poll.min}–${poll.max})` }), " ", select);
  } else {
    field = h("p", {}, h("label", { for: `${name}-in`, text: "Your answer" }), " ",
      h("input", { id: `${name}-in`, name, maxlength: 300, autocomplete: "off" }));
  }
  const form = h("form", { class: "vote" }, field, h("button", { type: "submit", class: "vote-btn", text: "Vote" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let answer;
    if (CHOICE.has(poll.kind)) answer = [...form.querySelectorAll("input:checked")].map((el) => Number(el.value));
    else if (poll.kind === "rating") answer = Number(form.querySelector("select").value);
    else answer = form.querySelector("input").value.trim();
    if ((Array.isArray(answer) && !answer.length) || answer === "") {
      ctx.notify("Choose an answer first.", "warn");
      return;
    }
    const ack = await ctx.send("poll:vote", { poll_id: poll.id, answer });
    if (!ack.ok) { ctx.notify(`Vote not counted: ${ack.error?.message ?? "error"}`, "warn"); return; }
    const p = ctx.state.polls.get(poll.id);
    if (p) p.yours = { answer };
    ctx.notify("Your vote was counted.", "ok");
    ctx.refresh();
  });
  return form;
}

function hostControls(ctx, poll) {
  const b = (text, event, data = {}) => h("button", { type: "button", class: "small", text,
    on: { click: async () => {
      const ack = await ctx.send(event, { poll_id: poll.id, ...data });
      if (!ack.ok) ctx.notify(`${text}: ${ack.error?.message ?? "error"}`, "warn");
    } } });
  const out = [];
  if (poll.status === "draft") out.push(b("Open", "poll:open"));
  if (poll.status === "open") out.push(b("Close", "poll:close"));
  if (poll.status === "open" || poll.status === "closed") {
    out.push(poll.results_shown ? b("Hide results", "poll:show_results", { show: false })
                                : b("Show results", "poll:show_results", { show: true }));
  }
  if (poll.status === "closed") out.push(b("Publish", "poll:publish"));
  return out;
}

function card(ctx, poll) {
  return h("li", { class: "card poll" },
    h("h3", { class: "question", text: poll.question }),
    h("p", { class: "meta" }),
    h("div", { class: "vote-slot" }),
    h("p", { class: "yours" }),
    h("div", { class: "results-slot", "aria-live": "polite" }),
    h("div", { class: "buttons" }));
}

export function updateCard(ctx, el, poll, { readonly = false } = {}) {
  const staff = !readonly && amStaff(ctx.state);
  const tags = [STATUS[poll.status] ?? poll.status, poll.quiz ? "Quiz" : "", poll.anonymous ? "Anonymous" : ""];
  if (poll.status === "open" && poll.ends_at) {
    const left = Math.max(0, Math.round((poll.ends_at - ctx.now()) / 1000));
    tags.push(`${left}s left`);
  }
  setText(el.querySelector(".meta"), tags.filter(Boolean).join(" · "));
  el.classList.toggle("is-open", poll.status === "open");
  const slot = el.querySelector(".vote-slot");
  const canVote = !readonly && poll.status === "open";
  if (canVote && !slot.firstChild) slot.append(voteForm(ctx, poll));
  if (!canVote && slot.firstChild) slot.replaceChildren();
  const btn = slot.querySelector(".vote-btn");
  if (btn) setText(btn, poll.yours ? "Change vote" : "Vote");
  let yours = "";
  if (poll.yours) {
    yours = `Your answer: ${describe(poll.yours.answer, poll)}`;
    if (poll.yours.correct === true) yours += " — correct!";
    if (poll.yours.correct === false) yours += " — not quite.";
  }
  setText(el.querySelector(".yours"), yours);
  el.querySelector(".yours").classList.toggle("right", poll.yours?.correct === true);
  el.querySelector(".yours").classList.toggle("wrong", poll.yours?.correct === false);
  const sig = JSON.stringify([poll.results, poll.status, poll.correct, poll.results_shown]);
  const results = el.querySelector(".results-slot");
  if (results.dataset.sig !== sig) {
    results.dataset.sig = sig;
    results.replaceChildren(resultsView(poll));
  }
  const buttons = el.querySelector(".buttons");
  const bsig = JSON.stringify([staff, poll.status, poll.results_shown]);
  if (buttons.dataset.sig !== bsig) {
    buttons.dataset.sig = bsig;
    buttons.replaceChildren(...(staff ? hostControls(ctx, poll) : []));
  }
}

export function setup(ctx) {
  const form = $("poll-form");
  const kind = $("poll-kind");
  const syncKind = () => {
    $("poll-options-row").hidden = !(kind.value === "single" || kind.value === "multiple");
    $("poll-correct-row").hidden = !CHOICE.has(kind.value);
    $("poll-rating-row").hidden = kind.value !== "rating";
  };
  kind.addEventListener("change", syncKind);
  syncKind();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const openNow = $("poll-open-now").checked;
    const data = { question: $("poll-question").value.trim(), kind: kind.value, anonymous: $("poll-anonymous").checked };
    if (kind.value === "single" || kind.value === "multiple") {
      data.options = $("poll-options").value.split("\n").map((x) => x.trim()).filter(Boolean);
    }
    if (kind.value === "rating") {
      data.min = Number($("poll-min").value);
      data.max = Number($("poll-max").value);
    }
    const correct = $("poll-correct").value.split(/[\s,]+/).filter(Boolean).map((x) => Number(x) - 1);
    if (CHOICE.has(kind.value) && correct.length) data.correct = correct;
    const duration = Number($("poll-duration").value);
    if (duration > 0) data.duration_s = duration;
    const ack = await ctx.send("poll:create", data);
    if (!ack.ok) { ctx.notify(`Poll not created: ${ack.error?.message ?? "error"}`, "warn"); return; }
    form.reset();
    syncKind();
    $("poll-create").open = false;
    if (openNow) {
      const open = await ctx.send("poll:open", { poll_id: ack.poll_id });
      if (!open.ok) ctx.notify(`Poll created but not opened: ${open.error?.message}`, "warn");
    }
  });

  let openCount = 0;
  return function render(s) {
    $("poll-create").hidden = !amStaff(s);
    const polls = [...s.polls.values()].reverse();
    $("polls-empty").hidden = polls.length > 0;
    keyed($("polls"), polls, (p) => p.id, (p) => card(ctx, p), (el, p) => updateCard(ctx, el, p));
    const open = polls.filter((p) => p.status === "open").length;
    if (open > openCount) ctx.badge("polls");
    openCount = open;
  };
}
