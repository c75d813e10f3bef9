// Taking part in a replay: the recording's own stream over Socket.IO (the
// replay token in `auth`). Learners answer the recorded polls when the video
// reaches them (it pauses at quiz questions unless they say not to) or later
// from the list, and then see both cohorts' results side by side; they ask
// questions at a moment, upvote, reply, and read staff answers; their
// progress is kept, so the video resumes where they left off. Hosts and
// moderators also see the questions waiting for an answer, oldest first.

import { $, bars, clock, h, keyed, setText } from "./dom.js";

const PROGRESS_EVERY_MS = 5000;
const CHOICE = new Set(["single", "multiple", "truefalse"]);

function labels(poll) {
  if (poll.kind !== "rating") return poll.options ?? [];
  const out = [];
  for (let v = poll.min ?? 1; v <= (poll.max ?? 5); v += 1) out.push(String(v));
  return out;
}

function describe(answer, poll) {
  if (Array.isArray(answer)) return answer.map((i) => poll.options?.[i] ?? `#${i + 1}`).join(", ");
  return String(answer);
}

// One cohort's tally: bars with counts and shares, or the most frequent words.
function cohort(title, poll, r) {
  const summary = h("p", { class: "summary", text: `${title}: ${r.voters} ${r.voters === 1 ? "answer" : "answers"}` });
  if (poll.kind === "text") {
    const max = Math.max(1, ...(r.words ?? []).map((w) => w.count));
    return h("div", { class: "cohort" }, summary, h("ul", { class: "cloud", "aria-label": `${title}: most frequent words` },
      (r.words ?? []).map((w) => {
        const li = h("li", { text: `${w.word} (${w.count})` });
        li.style.fontSize = `${0.9 + (1.2 * w.count) / max}rem`;
        return li;
      })));
  }
  const mean = poll.kind === "rating" && r.mean != null ? h("p", { class: "summary", text: `Average ${r.mean}` }) : null;
  return h("div", { class: "cohort" }, summary, mean, bars(labels(poll), r.counts ?? [], { correct: poll.correct ?? [] }));
}

function outcome(poll) {
  if (!poll.results) return null;
  const verdict = poll.right === undefined ? null
    : h("p", { class: poll.right ? "ok" : "warn", text: poll.right ? "Right!" : "Not quite: the right answer is marked." });
  return h("div", { class: "outcome" }, verdict,
    h("div", { class: "cohorts" }, cohort("In class", poll, poll.results.live), cohort("Watching later", poll, poll.results.async)));
}

function ballotOf(form, poll) {
  const data = new FormData(form);
  if (CHOICE.has(poll.kind)) return data.getAll("answer").map(Number);
  if (poll.kind === "rating") return Number(data.get("answer"));
  return String(data.get("answer") ?? "").trim();
}

function voteForm(poll, vote) {
  const id = `rp-${poll.poll_id}`;
  let field;
  if (CHOICE.has(poll.kind)) {
    const type = poll.kind === "multiple" ? "checkbox" : "radio";
    field = h("fieldset", {}, h("legend", { class: "sr-only", text: poll.question }),
      poll.options.map((opt, i) => h("label", { class: "choice" },
        h("input", { type, name: "answer", value: String(i) }), h("span", { text: opt }))));
  } else if (poll.kind === "rating") {
    field = h("p", {}, h("label", { for: id, text: `Your rating (${poll.min}–${poll.max})` }), " ",
      h("select", { id, name: "answer" }, labels(poll).map((v) => h("option", { value: v, text: v }))));
  } else {
    field = h("p", {}, h("label", { for: id, text: "Your answer" }), " ",
      h("input", { id, name: "answer", maxlength: 300, autocomplete: "off" }));
  }
  const form = h("form", { class: "vote" }, field, h("button", { type: "submit", text: "Answer" }));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); vote(poll, ballotOf(form, poll)); });
  return form;
}

export class TakePart {
  constructor(replay) {
    this.replay = replay;
    this.video = replay.video;
    this.state = null;
    this.offered = new Set(); // polls already offered at their moment in this visit
    this.span = null; // [from, to] being watched now
    this.unsent = [];
    this.lastSent = 0;
  }

  get staff() { return this.state?.you?.role === "host" || this.state?.you?.role === "moderator"; }

  // Watching without a name: sees everything shared with viewers, takes part in nothing.
  get guest() { return Boolean(this.state?.you?.guest); }

  start(token) {
    $("tab-part").hidden = false;
    this.socket = io({
      transports: ["websocket"],
      auth: (cb) => cb(this.state ? { token, last_seq: this.state.seq } : { token }),
    });
    this.socket.on("replay:state", (s) => this.onState(s));
    this.socket.on("replay:resumed", (d) => { this.state.seq = Math.max(this.state.seq, d.seq); });
    this.socket.on("replay:question", (d) => this.onQuestion(d));
    this.socket.on("replay:updated", (d) => this.onQuestion(d));
    this.socket.on("replay:results", (d) => this.onResults(d));
    this.socket.on("replay:votes", (d) => this.onVotes(d));
    this.socket.on("connect_error", (err) => setText($("part-status"), err.data?.message ?? "Cannot reach the server; retrying…"));
    $("ask-form").addEventListener("submit", (ev) => { ev.preventDefault(); this.ask(); });
    for (const ev of ["timeupdate", "seeked"]) this.video.addEventListener(ev, () => this.follow());
    this.video.addEventListener("seeking", () => this.cutSpan());
    this.video.addEventListener("pause", () => { this.cutSpan(); this.report(true); });
    this.video.addEventListener("ended", () => this.renderScore());
    addEventListener("pagehide", () => { this.cutSpan(); this.report(true); });
  }

  send(event, data) {
    return this.socket.timeout(10_000).emitWithAck(event, data)
      .catch(() => ({ ok: false, error: { message: "no answer from the server" } }));
  }

  // -- the stream ----------------------------------------------------------------

  onState(s) {
    const first = !this.state;
    this.state = s;
    this.questions = new Map(s.questions.map((q) => [q.id, q]));
    this.polls = new Map(s.polls.map((p) => [p.poll_id, p]));
    setText($("part-status"), s.you.guest
      ? "You are watching without a name: open the share link in a new tab and give one to answer polls and ask questions."
      : s.you.last_seen ? `Welcome back, ${s.you.name}.` : `Hello, ${s.you.name}.`);
    $("ask-form").hidden = s.you.guest;
    if (first) this.resume(s.progress);
    this.render();
  }

  onQuestion(d) {
    if (!this.state || d.seq <= this.state.seq) return;
    this.state.seq = d.seq;
    const old = this.questions.get(d.question.id);
    if (d.question.status === "dismissed" && !this.staff) this.questions.delete(d.question.id);
    else this.questions.set(d.question.id, { ...d.question, voted: old?.voted ?? false });
    this.render();
  }

  onResults(d) {
    const poll = this.polls?.get(d.poll_id);
    if (!poll?.results) return;
    poll.results = { ...poll.results, async: d.async };
    this.renderPolls();
  }

  onVotes(d) {
    const q = this.questions?.get(d.question_id);
    if (!q) return;
    q.votes = d.votes;
    this.renderQuestions();
  }

  // -- progress --------------------------------------------------------------------

  resume(progress) {
    const asked = Number(new URLSearchParams(location.search).get("t"));
    const at = progress.position_ms;
    const duration = this.replay.manifest.duration_ms ?? 0;
    // Near the end there is nothing left to resume: start again from the top.
    if (asked > 0 || at <= 0 || at >= duration - Math.min(5000, duration / 10)) return;
    const jump = () => this.replay.seek(at);
    if (this.video.readyState >= 1) jump();
    else this.video.addEventListener("loadedmetadata", jump, { once: true });
    setText($("part-status"), `Welcome back: playing from ${clock(at)}, where you left off.`);
  }

  follow() {
    const t = this.replay.now();
    if (!this.video.paused && !this.video.seeking) {
      if (this.span && t >= this.span[1] && t - this.span[1] < 3000) this.span[1] = t;
      else { this.cutSpan(); this.span = [t, t]; }
    }
    this.offer(t);
    this.report(false);
    this.renderMissed(t);
    this.renderMarkers(t);
  }

  cutSpan() {
    if (this.span && this.span[1] > this.span[0]) this.unsent.push(this.span);
    this.span = null;
  }

  report(now) {
    if (!this.state || this.guest || (!now && Date.now() - this.lastSent < PROGRESS_EVERY_MS)) return;
    const watched = [...this.unsent];
    if (this.span && this.span[1] > this.span[0]) {
      watched.push([...this.span]);
      this.span = [this.span[1], this.span[1]];
    }
    this.unsent = [];
    this.lastSent = Date.now();
    this.send("replay:progress", { position_ms: Math.round(this.replay.now()), watched: watched.slice(-100).map((s) => s.map(Math.round)) });
  }

  // -- polls -----------------------------------------------------------------------

  // A poll the playhead just reached is offered; a quiz question pauses the video.
  offer(t) {
    for (const poll of this.polls?.values() ?? []) {
      if (this.offered.has(poll.poll_id) || poll.your_answer !== undefined || this.staff || this.guest) continue;
      if (t < poll.at_ms || t > poll.at_ms + 3000) continue;
      this.offered.add(poll.poll_id);
      this.current = poll.poll_id;
      const pause = $("pause-at").value;
      if (pause === "all" || (pause === "quiz" && poll.quiz)) this.video.pause();
      this.renderPolls();
      $("tab-part").click();
    }
  }

  async vote(poll, answer) {
    const ack = await this.send("replay:vote", { poll_id: poll.poll_id, answer });
    if (!ack.ok) { setText($("part-status"), `Not counted: ${ack.error.message}`); return; }
    Object.assign(poll, { your_answer: answer, results: ack.results, correct: ack.correct, right: ack.right });
    this.renderPolls();
    this.renderScore();
  }

  pollCard(poll) {
    const el = h("li", { class: "card poll", dataset: { t: poll.at_ms } },
      this.replay.seekButton(poll.at_ms, poll.question),
      h("p", { class: "meta", text: [poll.quiz ? "Quiz question" : "Poll", poll.anonymous ? "anonymous" : ""].filter(Boolean).join(" · ") }));
    if (poll.your_answer !== undefined) el.append(h("p", { class: "yours", text: `Your answer: ${describe(poll.your_answer, poll)}` }));
    else if (!this.staff && !this.guest) el.append(voteForm(poll, (p, a) => this.vote(p, a)));
    const shown = outcome(poll);
    if (shown) el.append(shown);
    return el;
  }

  renderPolls() {
    const polls = [...(this.polls?.values() ?? [])];
    const t = this.replay.now();
    const current = this.polls?.get(this.current);
    $("poll-now").replaceChildren(...(current ? [this.pollCard(current)] : []));
    $("poll-now-box").hidden = !current;
    $("part-polls-empty").hidden = polls.length > 0;
    $("part-polls").replaceChildren(...polls.filter((p) => p.poll_id !== this.current).map((p) => this.pollCard(p)));
    this.renderMissed(t);
  }

  // Past the playhead and not answered yet: the ones to come back to, in the list below.
  renderMissed(t) {
    const missed = [...(this.polls?.values() ?? [])]
      .filter((p) => p.at_ms <= t && p.your_answer === undefined && p.poll_id !== this.current);
    $("polls-missed-note").hidden = this.staff || this.guest || missed.length === 0;
    setText($("polls-missed-note"), `${missed.length} ${missed.length === 1 ? "poll" : "polls"} you passed without answering: answer ${missed.length === 1 ? "it" : "them"} below.`);
  }

  renderScore() {
    const quiz = [...(this.polls?.values() ?? [])].filter((p) => p.correct);
    const answered = quiz.filter((p) => p.right !== undefined);
    $("score").hidden = answered.length === 0;
    setText($("score"), `Quiz: ${answered.filter((p) => p.right).length} of ${quiz.length} right`
      + (answered.length < quiz.length ? ` (${quiz.length - answered.length} not answered yet)` : "."));
  }

  // -- questions -------------------------------------------------------------------

  async ask() {
    const text = $("ask-text").value.trim();
    if (!text) return;
    const at = Math.min(Math.round(this.replay.now()), this.state.recording.duration_ms);
    const ack = await this.send("replay:ask", { text, at_ms: at, anonymous: $("ask-anonymous").checked });
    if (!ack.ok) { setText($("part-status"), `Not sent: ${ack.error.message}`); return; }
    $("ask-text").value = "";
  }

  async act(event, data, button) {
    if (button) button.disabled = true;
    const ack = await this.send(event, data);
    if (button) button.disabled = false;
    if (!ack.ok) setText($("part-status"), ack.error.message);
    return ack;
  }

  isNew(q) {
    const since = this.state.you.last_seen;
    return Boolean(since) && Math.max(q.asked_at ?? 0, q.answered_at ?? 0, ...q.replies.map((r) => r.ts)) > since;
  }

  questionCard(q) {
    const by = q.author ? q.author.name : "Anonymous";
    const el = h("li", { class: `card async-q ${q.status}`, dataset: { t: q.at_ms } },
      this.replay.seekButton(q.at_ms, q.text),
      h("p", { class: "meta", text: `${by} · ${q.votes} ${q.votes === 1 ? "vote" : "votes"}${q.status === "dismissed" ? " · dismissed" : ""}` }));
    if (this.isNew(q)) el.prepend(h("span", { class: "badge new", text: "New" }));
    if (q.answer) el.append(h("p", { class: "answer", text: `${q.answered_by}: ${q.answer}` }));
    if (q.replies.length) {
      el.append(h("ol", { class: "replies" }, q.replies.map((r) =>
        h("li", {}, h("span", { class: "who", text: r.staff ? `${r.author.name} (staff)` : r.author.name }), " ", h("span", { text: r.text })))));
    }
    const buttons = h("div", { class: "buttons" });
    if (q.status !== "dismissed" && !this.guest) {
      const up = h("button", { type: "button", class: "small", "aria-pressed": String(Boolean(q.voted)), text: q.voted ? "Upvoted" : "Upvote" });
      up.addEventListener("click", async () => {
        const ack = await this.act(q.voted ? "replay:unvote" : "replay:upvote", { question_id: q.id }, up);
        if (ack.ok) { q.voted = !q.voted; q.votes += q.voted ? 1 : -1; this.renderQuestions(); }
      });
      buttons.append(up, this.textForm(q, "replay:reply", "Reply", 500));
      if (this.staff) {
        buttons.append(this.textForm(q, "replay:answer", q.answer ? "Answer again" : "Answer", 1000));
        const dismiss = h("button", { type: "button", class: "small", text: "Dismiss" });
        dismiss.addEventListener("click", () => this.act("replay:dismiss", { question_id: q.id }, dismiss));
        buttons.append(dismiss);
      }
    }
    el.append(buttons);
    return el;
  }

  textForm(q, event, label, max) {
    const id = `${event.replace(":", "-")}-${q.id}`;
    const input = h("input", { id, maxlength: max, autocomplete: "off" });
    const form = h("form", { class: "inline" }, h("label", { for: id, class: "sr-only", text: label }), input,
      h("button", { type: "submit", class: "small", text: label }));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      if (text && (await this.act(event, { question_id: q.id, text })).ok) input.value = "";
    });
    return form;
  }

  renderQuestions() {
    const qs = [...(this.questions?.values() ?? [])].sort((a, b) => a.at_ms - b.at_ms || a.asked_at - b.asked_at);
    $("part-qa-empty").hidden = qs.length > 0;
    keyed($("part-questions"), qs, (q) => `${q.id}:${q.votes}:${q.status}:${q.replies.length}:${q.answer}:${q.voted}`,
      (q) => this.questionCard(q));
    // Since the last visit: answers to the viewer's own questions first, then the rest.
    const fresh = qs.filter((q) => this.isNew(q));
    const mine = fresh.filter((q) => q.author?.user_id === this.state.you.user_id && q.answered_at > this.state.you.last_seen);
    $("since").hidden = fresh.length === 0;
    setText($("since"), [
      mine.length ? `${mine.length} of your questions ${mine.length === 1 ? "was" : "were"} answered since your last visit: ${mine.map((q) => `“${q.text}”`).join(", ")}.` : "",
      `${fresh.length} new or updated ${fresh.length === 1 ? "question" : "questions"} since your last visit (marked New).`,
    ].filter(Boolean).join(" "));
    $("waiting-box").hidden = !this.staff;
    if (!this.staff) return;
    const waiting = qs.filter((q) => q.status === "open").sort((a, b) => a.asked_at - b.asked_at);
    $("waiting-empty").hidden = waiting.length > 0;
    $("waiting").replaceChildren(...waiting.map((q) => h("li", {}, this.replay.seekButton(q.at_ms, q.text))));
  }

  // Questions and polls as marks along the recording, to jump to.
  renderMarkers(t = this.replay.now()) {
    const duration = Math.max(1, this.state?.recording.duration_ms ?? 1);
    const marks = [
      ...[...(this.polls?.values() ?? [])].map((p) => ({ key: `p${p.poll_id}`, at: p.at_ms, kind: "poll", label: `Poll at ${clock(p.at_ms)}: ${p.question}` })),
      ...[...(this.questions?.values() ?? [])].map((q) => ({ key: `q${q.id}`, at: q.at_ms, kind: "question", label: `Question at ${clock(q.at_ms)}: ${q.text}` })),
    ];
    keyed($("markers"), marks, (m) => m.key, (m) => {
      const b = h("button", { type: "button", class: `marker ${m.kind}`, title: m.label, "aria-label": m.label,
        on: { click: () => this.replay.seek(m.at) } });
      b.style.left = `${(100 * Math.min(m.at, duration)) / duration}%`;
      return b;
    }, (el, m) => el.classList.toggle("future", m.at > t));
  }

  render() {
    this.renderPolls();
    this.renderQuestions();
    this.renderScore();
    this.renderMarkers();
  }
}
