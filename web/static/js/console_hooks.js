// The webhook delivery log (the admin's only: it spans every class): each
// message, newest first, and how each endpoint took it.

import { $, h } from "./dom.js";
import { acting, api, when } from "./console_session.js";

const STATES = { pending: "pending", retrying: "retrying", delivered: "delivered", gave_up: "gave up", dropped: "dropped" };

function lastAnswer(delivery) {
  const last = delivery.attempts.at(-1);
  if (!last) return delivery.next_attempt_at ? `next try ${when(Date.parse(delivery.next_attempt_at))}` : "";
  const answer = last.status !== null ? `HTTP ${last.status}` : (last.error ?? last.outcome);
  return `${answer}, ${when(Date.parse(last.at))}`;
}

function rows(message) {
  return message.deliveries.map((d, i) => h("tr", { class: `delivery ${d.state}` },
    h("td", { text: i === 0 ? when(Date.parse(message.created_at)) : "" }),
    h("td", { text: i === 0 ? message.type : "" }),
    h("td", { class: "url", text: d.url ?? `${d.endpoint} (no longer configured)` }),
    h("td", {}, h("span", { class: "tag", text: STATES[d.state] ?? d.state })),
    h("td", { text: String(d.tries) }),
    h("td", { text: lastAnswer(d) })));
}

export class Webhooks {
  constructor() {
    $("webhooks-refresh").addEventListener("click", acting(() => this.refresh()));
    $("tab-webhooks").addEventListener("click", acting(() => this.refresh()));
  }

  async refresh() {
    const log = await api("/api/webhooks/deliveries", { query: { limit: 200 } });
    $("webhooks-endpoints").textContent = log.endpoints.length
      ? `Posting to ${log.endpoints.map((e) => e.url).join(", ")}.`
      : "No webhook is configured (classroom serve --webhook URL).";
    $("webhooks").querySelector("tbody").replaceChildren(...log.messages.flatMap(rows));
    $("webhooks").hidden = log.messages.length === 0;
    $("webhooks-empty").hidden = log.messages.length > 0;
  }
}
