// Slides and the whiteboard as this client knows them: the page its room shows,
// who presents, the decks (for those who may show them) and the ink of every
// page of the room. Pure data, no DOM: the live page and the replay fold the
// same messages through these reducers (registered in state.js).

const MAIN = "main";

export const pageKey = (deckId, page) => `${deckId ?? ""}:${page}`;

export function emptySlides() {
  return { view: null, presenters: new Set(), everyoneDraws: false, decks: new Map(), pages: new Map(), version: 0 };
}

export function slidesFromSnapshot(snap) {
  const out = emptySlides();
  if (!snap) return out;
  out.view = snap.view ? { ...snap.view } : null;
  out.presenters = new Set(snap.presenters ?? []);
  out.everyoneDraws = Boolean(snap.everyone_draws);
  for (const deck of snap.decks ?? []) out.decks.set(deck.id, { ...deck });
  for (const page of snap.ink ?? []) {
    const strokes = new Map();
    for (const st of page.strokes) strokes.set(st.stroke_id, { ...st, points: [...st.points] });
    out.pages.set(pageKey(page.deck_id, page.page), strokes);
  }
  return out;
}

// Whether the board changed since `mark` (a value of `boardMark`): a snapshot replaces
// the whole object, so its identity counts as well as its version.
export const boardMark = (slides) => [slides, slides.version];
export const boardChanged = (slides, mark) => !mark || mark[0] !== slides || mark[1] !== slides.version;

// The strokes of the page the room shows now (blank page 1 before anything was shown).
export function currentStrokes(slides) {
  const v = slides.view;
  return slides.pages.get(pageKey(v?.deck_id ?? null, v?.page ?? 1)) ?? new Map();
}

// Whether the room's board shows something: a page, or the blank page everyone may draw on.
export function boardShows(s) {
  return Boolean(s.slides.view) || s.slides.everyoneDraws;
}

// Whether this user may show pages, and may draw (clients only hide what the server refuses anyway).
export function presents(s) {
  return s.you?.role === "host" || s.slides.presenters.has(s.you?.user_id);
}
export function mayDraw(s) {
  const role = s.you?.role;
  return role === "host" || role === "moderator" || presents(s) || s.slides.everyoneDraws;
}

const ours = (s, d) => (d.room ?? MAIN) === (s.you?.room ?? MAIN);
const touched = (s) => { s.slides.version += 1; };

export const BOARD_REDUCERS = {
  // A room's board as it stood when a recording started (the replay's first entry).
  "slides:state": (s, d) => {
    if (!ours(s, d)) return false;
    s.slides.view = d.view ? { ...d.view } : null;
    s.slides.pages = slidesFromSnapshot({ ink: d.ink }).pages;
    touched(s);
  },
  "slides:view": (s, d) => {
    if (!ours(s, d)) return false;
    s.slides.view = { deck_id: d.deck_id ?? null, page: d.page, zoom: d.zoom, x: d.x, y: d.y };
    touched(s);
  },
  "slides:presenter": (s, d) => {
    if (d.on) s.slides.presenters.add(d.user_id); else s.slides.presenters.delete(d.user_id);
  },
  "slides:deck": (s, d) => { s.slides.decks.set(d.deck.id, { ...d.deck }); },
  "board:opened": (s, d) => { s.slides.everyoneDraws = Boolean(d.everyone); },
  "board:ink": (s, d) => {
    if (!ours(s, d)) return false;
    const key = pageKey(d.deck_id, d.page);
    if (!s.slides.pages.has(key)) s.slides.pages.set(key, new Map());
    const strokes = s.slides.pages.get(key);
    const known = strokes.get(d.stroke_id);
    if (known) {
      known.points.push(...d.points);
      known.done = d.done;
    } else if (d.ink) {
      strokes.set(d.stroke_id, { stroke_id: d.stroke_id, user_id: d.user_id, ink: d.ink, points: [...d.points], done: d.done });
    } else return false;
    touched(s);
  },
  "board:erased": (s, d) => {
    if (!ours(s, d)) return false;
    const strokes = s.slides.pages.get(pageKey(d.deck_id, d.page));
    for (const id of d.stroke_ids) strokes?.delete(id);
    touched(s);
  },
  "board:cleared": (s, d) => {
    if (!ours(s, d)) return false;
    s.slides.pages.delete(pageKey(d.deck_id, d.page));
    touched(s);
  },
};
