// Questions and answers: ask (optionally anonymously), upvote once, see what
// is pinned and answered; hosts and moderators approve, pin, answer, dismiss.

import { $, h, keyed, setText } from "./dom.js";
import { amStaff } from "./state.js";

const ORDER = { pending: 1, open: 1, answered: 2, dismissed: 3 };

export function questionOrder(qs) {
  return [...qs].filter((q) => q.status !== "dismissed").sort((a, b) =>
    Number(b.pinned) - Number(a.pinned) || ORDER[a.status] - ORDER[b.status]
    || b.votes - a.votes || (a.asked_at ?? 0) - (b.asked_at ?? 0));
}

export function questionItem() {
  return h("li", { class: "card question" },
    h("p", { class: "qtext" }),
    h("p", { class: "meta" }),
    h("p", { class: "answer" }),
    h("div", { class: "buttons" }));
}

export function updateQuestion(el, q) {
  setText(el.querySelector(".qtext"), q.text);
  const tags = [q.author ? q.author.name : "Anonymous", `${q.votes} ${q.votes === 1 ? "vote" : "votes"}`,
    q.pinned ? "Pinned" : "", q.status === "answered" ? "Answered" : "", q.status === "pending" ? "Awaiting approval" : ""];
  setText(el.querySelector(".meta"), tags.filter(Boolean).join(" · "));
  const answer = el.querySelector(".answer");
  setText(answer, q.answer ? `Answer: ${q.answer}` : "");
  answer.hidden = !q.answer;
  el.classList.toggle("pinned", Boolean(q.pinned));
  el.classList.toggle("answered", q.status === "answered");
  el.classList.toggle("pending", q.status === "pending");
}

export function setup(ctx) {
  const form = $("qa-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("qa-input").value.trim();
    if (!text) return;
    const ack = await ctx.send("qa:ask", { text, anonymous: $("qa-anonymous").checked });
    if (!ack.ok) { ctx.notify(`Question not sent: ${ack.error?.message ?? "error"}`, "warn"); return; }
    $("qa-input").value = "";
    ctx.notify(ctx.state.qaModeration && !amStaff(ctx.state)
      ? "Your question was sent; it appears once a moderator approves it." : "Your question was posted.", "ok");
  });
  const moderation = $("qa-moderation");
  moderation.addEventListener("change", async () => {
    const ack = await ctx.send("qa:moderation", { on: moderation.checked });
    if (!ack.ok) ctx.notify(ack.error?.message ?? "Could not change moderation", "warn");
  });

  async function act(event, data, label) {
    const ack = await ctx.send(event, data);
    if (!ack.ok) ctx.notify(`${label}: ${ack.error?.message ?? "error"}`, "warn");
    return ack;
  }

  function buttons(s, q) {
    const out = [];
    if (q.status !== "pending" && q.status !== "dismissed") {
      out.push(h("button", { type: "button", class: "small upvote", "aria-pressed": String(Boolean(q.voted)),
        "aria-label": "Upvote this question",
        on: { click: async () => {
          const on = !q.voted;
          const ack = await act(on ? "qa:upvote" : "qa:unvote", { question_id: q.id }, "Vote");
          if (ack.ok) { const cur = ctx.state.questions.get(q.id); if (cur) cur.voted = on; ctx.refresh(); }
        } } }, q.voted ? "▲ Upvoted" : "▲ Upvote"));
    }
    if (!amStaff(s)) return out;
    const b = (text, event, data = {}) => h("button", { type: "button", class: "small", text,
      on: { click: () => act(event, { question_id: q.id, ...data }, text) } });
    if (q.status === "pending") out.push(b("Approve", "qa:approve"));
    if (q.status !== "dismissed") out.push(q.pinned ? b("Unpin", "qa:pin", { pinned: false }) : b("Pin", "qa:pin"));
    if (q.status !== "answered") {
      const id = `answer-${q.id}`;
      const input = h("input", { id, maxlength: 1000, placeholder: "Answer (optional)", autocomplete: "off" });
      const answerForm = h("form", { class: "inline" },
        h("label", { class: "sr-only", for: id, text: "Answer" }), input,
        h("button", { type: "submit", class: "small", text: "Mark answered" }));
      answerForm.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const text = input.value.trim();
        act("qa:answer", text ? { question_id: q.id, text } : { question_id: q.id }, "Answer");
      });
      out.push(answerForm);
    }
    out.push(b("Dismiss", "qa:dismiss"));
    return out;
  }

  return function render(s) {
    const staff = amStaff(s);
    $("qa-staff").hidden = !staff;
    moderation.checked = s.qaModeration;
    const qs = questionOrder(s.questions.values());
    $("qa-empty").hidden = qs.length > 0;
    keyed($("questions"), qs, (q) => q.id, questionItem, (el, q) => {
      updateQuestion(el, q);
      const box = el.querySelector(".buttons");
      const sig = JSON.stringify([staff, q.status, q.pinned, q.voted]);
      if (box.dataset.sig !== sig) {
        box.dataset.sig = sig;
        box.replaceChildren(...buttons(s, q));
      }
    });
  };
}
