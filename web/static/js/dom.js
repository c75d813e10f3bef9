// Small DOM helpers. Text only ever goes in through textContent (or a text
// node): nothing here parses HTML, so user text can never become markup.

export const $ = (id) => document.getElementById(id);

// h("button", {class: "x", type: "button", on: {click: fn}}, "label", child)
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "hidden" || key === "disabled" || key === "checked" || key === "draggable") el[key] = Boolean(value);
    else if (key === "value") el.value = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c)));
  return el;
}

// Keep `container`'s children in step with `items`, reusing each item's element
// by key so that focus, half-typed input and playing video survive a render.
export function keyed(container, items, key, create, update = () => {}) {
  const old = new Map();
  for (const child of container.children) if (child.dataset.key !== undefined) old.set(child.dataset.key, child);
  let cursor = container.firstElementChild;
  for (const item of items) {
    const k = String(key(item));
    let el = old.get(k);
    if (el) old.delete(k);
    else {
      el = create(item);
      el.dataset.key = k;
    }
    update(el, item);
    if (el !== cursor) container.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const el of old.values()) el.remove();
}

export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export function clock(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(hh ? 2 : 1, "0");
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function timeOfDay(ts) {
  return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// A horizontal bar chart of counts, drawn with DOM elements (no canvas needed).
export function bars(labels, counts, { correct = [], total } = {}) {
  const sum = total ?? counts.reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...counts);
  return h("ul", { class: "bars" }, labels.map((label, i) => {
    const n = counts[i] ?? 0;
    const pct = sum ? Math.round((100 * n) / sum) : 0;
    const fill = h("span", { class: "fill" });
    fill.style.width = `${(100 * n) / max}%`;
    const right = correct.includes(i);
    return h("li", { class: right ? "bar correct" : "bar" },
      h("span", { class: "label", text: right ? `${label} ✓` : label }),
      h("span", { class: "track", "aria-hidden": "true" }, fill),
      h("span", { class: "count", text: `${n} (${pct}%)` }));
  }));
}
