// Slides and the whiteboard on the classroom page: the page the room shows with
// its ink; presenters upload decks, turn pages, zoom and pan; whoever may draw
// draws. A stroke goes out in batches (every 50 ms while the pointer moves),
// its points thinned first; the server's echo is what stays on the board.

import { $, h, setText } from "./dom.js";
import { boardChanged, boardMark, boardShows, currentStrokes, mayDraw, presents } from "./board_state.js";
import { BLANK_SIZE, SPAN, paint, place } from "./ink.js";

const BATCH_MS = 50;
const BATCH_POINTS = 200;
const STROKE_POINTS = 5000;
const MIN_STEP = 12;  // in 1/10000 of the page: closer points add nothing visible
const ZOOMS = [100, 150, 200, 300, 400];
const IMAGES_KEPT = 24;
const WHOLE = new Set(["line", "arrow", "rect", "ellipse"]);
const NOTHING = "-"; // the deck select's value while nothing is shown

function strokeId() {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

// Page images are private: fetched with the join token, kept as object URLs.
export function pageImages(classId, token) {
  const cache = new Map();
  return async function image(deckId, page) {
    const key = `${deckId}:${page}`;
    if (cache.has(key)) return cache.get(key);
    const url = `/api/classes/${encodeURIComponent(classId)}/slides/${deckId}/pages/${page}`;
    const pending = fetch(url, { headers: { Authorization: `Bearer ${token}` } }).then(async (resp) => {
      if (!resp.ok) throw new Error(`page ${page}: ${resp.status}`);
      return URL.createObjectURL(await resp.blob());
    });
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
    while (cache.size > IMAGES_KEPT) {
      const [oldest, url0] = cache.entries().next().value;
      cache.delete(oldest);
      url0.then((u) => URL.revokeObjectURL(u), () => {});
    }
    return pending;
  };
}

// Show a page (an image URL, or null for a blank page) in the sheet and size its
// canvas to it (which clears it: paint after); resolves once it has the page's size.
export async function showPage(sheet, src) {
  const img = sheet.querySelector("img");
  const canvas = sheet.querySelector("canvas");
  if (src !== null && img.getAttribute("src") !== src) {
    img.src = src;
    await img.decode().catch(() => {});
  }
  img.hidden = src === null;
  if (src === null) img.removeAttribute("src");
  const [w, h] = src !== null && img.naturalWidth ? [img.naturalWidth, img.naturalHeight] : BLANK_SIZE;
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  sheet.style.aspectRatio = `${w} / ${h}`;
  sheet.style.setProperty("--ratio", String(w / h)); // the live page fits the sheet to its height
}

// Loads pages one at a time: the latest page asked for wins, and `done` runs once
// the sheet shows it (so the ink is painted after the canvas was sized).
export function pageLoader(sheet, source, done, failed = () => {}) {
  let shown = null;
  let wanted = null;
  let busy = false;
  async function next() {
    if (busy || wanted === null || wanted.key === shown) return;
    busy = true;
    const { key, args } = wanted;
    try {
      await showPage(sheet, await source(...args));
      shown = key;
      sheet.dataset.page = key;
    } catch (err) {
      failed(err);
      wanted = null;
    } finally {
      busy = false;
    }
    if (wanted?.key !== key) next();
    else done();
  }
  return {
    get shown() { return shown; },
    want(key, ...args) { wanted = { key, args }; next(); },
  };
}

export function setup(ctx, classId) {
  const image = pageImages(classId, ctx.token);
  const sheet = $("sheet");
  const canvas = $("ink");
  let drawing = null;     // the stroke being drawn here: {id, ink, points, sent, first}
  let painted = null;   // boardMark of what the canvas shows

  async function act(event, data, what) {
    const ack = await ctx.send(event, data);
    if (!ack.ok) ctx.notify(`${what}: ${ack.error?.message ?? "error"}`, "warn");
    return ack;
  }
  const view = () => ctx.state.slides.view;
  const show = (changes) => {
    const v = view() ?? { deck_id: null, page: 1, zoom: 100, x: SPAN / 2, y: SPAN / 2 };
    const next = { deck_id: v.deck_id, page: v.page, zoom: v.zoom, x: v.x, y: v.y, ...changes };
    return act("slides:show", next, "The page did not change");
  };

  // -- presenting
  $("slides-file").addEventListener("change", async () => {
    const file = $("slides-file").files[0];
    if (!file) return;
    $("slides-file").value = "";
    await upload(file);
  });
  async function upload(file) {
    const base = `/api/classes/${encodeURIComponent(classId)}/slides`;
    const headers = { Authorization: `Bearer ${ctx.token}` };
    const progress = $("slides-progress");
    setText(progress, `Uploading ${file.name}…`);
    const resp = await fetch(`${base}?name=${encodeURIComponent(file.name.replace(/\.pdf$/i, "").slice(0, 100) || "Slides")}`,
      { method: "POST", headers, body: file });
    let job = await resp.json().catch(() => ({}));
    if (!resp.ok) { setText(progress, `Not uploaded: ${job.error?.message ?? resp.status}`); return; }
    while (job.state === "queued" || job.state === "rendering") {
      setText(progress, job.pages ? `Preparing ${file.name}: page ${job.done} of ${job.pages}` : `Preparing ${file.name}…`);
      await new Promise((r) => setTimeout(r, 400));
      const next = await fetch(`${base}/${job.id}`, { headers });
      if (!next.ok) { setText(progress, `Lost track of ${file.name}`); return; }
      job = await next.json();
    }
    if (job.state === "failed") { setText(progress, `Not added: ${job.error}`); return; }
    setText(progress, `${file.name}: ${job.pages} pages ready.`);
    await act("slides:show", { deck_id: job.id, page: 1 }, "The deck could not be shown");
  }
  $("slides-deck").addEventListener("change", () => {
    const id = $("slides-deck").value;
    act("slides:show", id ? { deck_id: id, page: 1 } : { page: 1 }, "The page did not change");
  });
  $("slides-prev").addEventListener("click", () => show({ page: Math.max(1, (view()?.page ?? 1) - 1), zoom: 100, x: SPAN / 2, y: SPAN / 2 }));
  $("slides-next").addEventListener("click", () => show({ page: (view()?.page ?? 0) + 1, zoom: 100, x: SPAN / 2, y: SPAN / 2 }));
  $("slides-zoom").addEventListener("change", () => show({ zoom: Number($("slides-zoom").value) }));
  // While the host's change is on its way, a render from older state must not undo the click.
  let opening = false;
  $("board-everyone").addEventListener("change", async () => {
    opening = true;
    try {
      await act("board:open", { everyone: $("board-everyone").checked }, "Not changed");
    } finally {
      opening = false;
      $("board-everyone").checked = ctx.state.slides.everyoneDraws;
    }
  });
  $("board-undo").addEventListener("click", () => act("board:undo", {}, "Nothing undone"));
  $("board-clear").addEventListener("click", () => act("board:clear", {}, "Not cleared"));

  // -- drawing
  const toPage = (ev) => {
    const r = canvas.getBoundingClientRect();
    const clamp = (v) => Math.max(0, Math.min(SPAN, Math.round(v)));
    return [clamp(((ev.clientX - r.left) / r.width) * SPAN), clamp(((ev.clientY - r.top) / r.height) * SPAN)];
  };
  const look = () => ({ tool: $("board-tool").value, color: $("board-color").value, width: Number($("board-width").value) });

  canvas.addEventListener("pointerdown", (ev) => {
    if (!mayDraw(ctx.state)) return;
    const ink = look();
    const at = toPage(ev);
    if (ink.tool === "eraser") { erase(at); canvas.setPointerCapture(ev.pointerId); drawing = { erasing: true }; return; }
    if (ink.tool === "pan") {
      if (!view()) return;
      drawing = { panning: true, from: [ev.clientX, ev.clientY], view: { ...view() } }; canvas.setPointerCapture(ev.pointerId);
      return;
    }
    if (ink.tool === "text") {
      const text = $("board-text").value.trim();
      if (!text) { ctx.notify("Write the text first, then click where it goes.", "warn"); return; }
      sendWhole({ ...ink, width: ink.width * 4, text }, at);
      return;
    }
    canvas.setPointerCapture(ev.pointerId);
    drawing = { id: strokeId(), ink, points: [...at], sent: 0, first: true, timer: null, queue: Promise.resolve() };
    if (!WHOLE.has(ink.tool)) drawing.timer = setInterval(flush, BATCH_MS);
    repaint(true);
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drawing) return;
    if (drawing.erasing) { erase(toPage(ev)); return; }
    if (drawing.panning) { pan(ev); return; }
    const [x, y] = toPage(ev);
    const pts = drawing.points;
    if (WHOLE.has(drawing.ink.tool)) { drawing.points = [pts[0], pts[1], x, y]; repaint(true); return; }
    const dx = x - pts[pts.length - 2];
    const dy = y - pts[pts.length - 1];
    if (dx * dx + dy * dy < MIN_STEP * MIN_STEP || pts.length >= 2 * STROKE_POINTS) return;
    pts.push(x, y);
    if (pts.length - drawing.sent >= 2 * BATCH_POINTS) flush();
    repaint(true);
  });
  const finish = () => {
    const d = drawing;
    drawing = null;
    if (!d || d.erasing || d.panning) return;
    if (WHOLE.has(d.ink.tool)) {
      if (d.points.length === 4) sendWhole(d.ink, d.points, d);
      return;
    }
    clearInterval(d.timer);
    flush(d, true);
    d.queue.then(() => { if (preview === d) { preview = null; repaint(true); } });
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);

  let preview = null;  // the last stroke drawn here, shown until its echo is in
  function flush(d = drawing, done = false) {
    if (!d || d.erasing || d.panning) return;
    preview = d;
    let points = d.points.slice(d.sent, d.sent + 2 * BATCH_POINTS);
    if (!points.length && !done) return;
    if (!points.length) points = d.points.slice(-2);
    d.sent += points.length;
    const body = { stroke: d.id, points, done: done && d.sent >= d.points.length };
    if (d.first) Object.assign(body, d.ink);
    d.first = false;
    d.queue = d.queue.then(() => act("board:draw", body, "Not drawn"));
    if (done && d.sent < d.points.length) flush(d, true);
  }
  function sendWhole(ink, points, d = null) {
    preview = d;
    act("board:draw", { stroke: strokeId(), points, ...ink, done: true }, "Not drawn").then(() => {
      if (preview === d) { preview = null; repaint(true); }
    });
  }
  let erasing = new Set();
  function erase([x, y]) {
    const me = ctx.state.you?.user_id;
    const anyone = presents(ctx.state) || ["host", "moderator"].includes(ctx.state.you?.role);
    const hits = [];
    for (const st of currentStrokes(ctx.state.slides).values()) {
      if ((st.user_id !== me && !anyone) || erasing.has(st.stroke_id)) continue;
      const reach = Math.max(80, st.ink.width);
      for (let i = 0; i < st.points.length; i += 2) {
        if (Math.abs(st.points[i] - x) < reach && Math.abs(st.points[i + 1] - y) < reach) { hits.push(st.stroke_id); break; }
      }
    }
    if (!hits.length) return;
    for (const id of hits) erasing.add(id);
    act("board:erase", { strokes: hits.slice(0, 100) }, "Not erased").then(() => { erasing = new Set(); });
  }
  let lastPan = 0;
  function pan(ev) {
    if (Date.now() - lastPan < 100) return;
    lastPan = Date.now();
    const d = drawing;
    const r = sheet.parentElement.getBoundingClientRect();
    const z = (d.view.zoom ?? 100) / 100;
    const clamp = (v) => Math.max(0, Math.min(SPAN, Math.round(v)));
    show({
      x: clamp(d.view.x - ((ev.clientX - d.from[0]) / r.width / z) * SPAN),
      y: clamp(d.view.y - ((ev.clientY - d.from[1]) / r.height / z) * SPAN),
    });
  }

  function repaint(force = false) {
    if (!force && !boardChanged(ctx.state.slides, painted)) return;
    painted = boardMark(ctx.state.slides);
    const extra = [];
    if (preview) extra.push({ ink: preview.ink, points: preview.points });
    if (drawing && drawing.ink) extra.push({ ink: drawing.ink, points: drawing.points });
    const strokes = [...currentStrokes(ctx.state.slides).values()].filter((st) => !extra.length || st.stroke_id !== preview?.id);
    paint(canvas, strokes, extra);
  }

  const pages = pageLoader(sheet, async (deckId, page) => (deckId ? image(deckId, page) : null),
    () => repaint(true), (err) => ctx.notify(`The page could not be loaded: ${err.message}`, "warn"));
  // A participant made presenter mid-class asks for the decks (the snapshot had none for them).
  let asked = null;
  async function askDecks(s) {
    asked = s.slides;
    const ack = await ctx.send("slides:decks", {});
    if (!ack.ok || asked !== ctx.state.slides) return;
    for (const deck of ack.decks) ctx.state.slides.decks.set(deck.id, deck);
    ctx.refresh();
  }

  function render(s) {
    const v = s.slides.view;
    const presenting = presents(s);
    if (presenting && asked !== s.slides && s.you?.role !== "host") askDecks(s);
    // Shown when a page is, and while everyone may draw (blank page 1 then). With
    // nothing shown, presenters keep only the tools that show something: an empty
    // sheet would push the cameras below the fold, where they are not received.
    const blank = !boardShows(s);
    $("board").hidden = blank && !presenting;
    $("board-frame").hidden = blank;
    $("slides-tools").hidden = !presenting;
    const drawing = !blank && mayDraw(s);
    $("board-tools").hidden = !drawing;
    $("board").classList.toggle("drawing", drawing);
    $("board").classList.toggle("presenting", presenting);
    $("board-everyone-row").hidden = s.you?.role !== "host";
    if (!opening) $("board-everyone").checked = s.slides.everyoneDraws;
    $("board-clear").hidden = !(presenting || ["host", "moderator"].includes(s.you?.role));
    $("board-tool").querySelector("option[value=pan]").hidden = !presenting;
    const decks = [...s.slides.decks.values()];
    const select = $("slides-deck");
    const sig = JSON.stringify([Boolean(v), ...decks.map((d) => d.id)]);
    if (select.dataset.sig !== sig) {
      select.dataset.sig = sig;
      // With nothing shown, choosing the whiteboard must be a change too.
      const none = v ? null : h("option", { value: NOTHING, text: "Nothing shown", disabled: true });
      select.replaceChildren(...(none ? [none] : []),
        h("option", { value: "", text: "Whiteboard (blank pages)" }),
        ...decks.map((d) => h("option", { value: d.id, text: `${d.name} (${d.pages} pages)` })));
    }
    select.value = v ? v.deck_id ?? "" : NOTHING;
    $("slides-zoom").value = String(ZOOMS.includes(v?.zoom) ? v.zoom : 100);
    const deck = v?.deck_id ? s.slides.decks.get(v.deck_id) : null;
    setText($("slides-page"), !v ? (s.slides.everyoneDraws ? "Whiteboard" : "Nothing shown yet") : v.deck_id
      ? `Page ${v.page}${deck ? ` of ${deck.pages}` : ""}` : `Blank page ${v.page}`);
    if (!v && $("board").hidden) return;
    place(sheet, v);
    const key = `${v?.deck_id ?? ""}:${v?.page ?? 1}`;
    if (key !== pages.shown) pages.want(key, v?.deck_id ?? null, v?.page ?? 1);
    else repaint();
  }
  return render;
}
