// The board in the replay: the slide the main room showed at the playhead, with
// its ink as it stood then (the replay's fold runs the same reducers as the
// live page, js/board_state.js), and the slides' text in the search. Page
// images come from the package (`slide-<deck>-<page>.webp`, signed URLs of
// the manifest); `slides.json` holds each shown page's title and text.

import { $, h, setText } from "./dom.js";
import { boardChanged, boardMark, currentStrokes } from "./board_state.js";
import { paint, place } from "./ink.js";
import { pageLoader } from "./slides.js";

const MAIN = "main";

export const slideImage = (deckId, page) => `slide-${deckId}-${String(page).padStart(4, "0")}.webp`;

export class ReplayBoard {
  constructor(manifest, events, seek) {
    this.manifest = manifest;
    this.seek = seek;
    this.pages = [];
    this.painted = null;
    this.state = null;
    this.loader = pageLoader($("sheet"), async (file) => file, () => { this.painted = null; this.render(this.state); });
    // When each deck page was put up in the main room: where a search match seeks to.
    this.turns = [];
    for (const ev of events) {
      const view = ev.name === "slides:state" ? ev.data.view : ev.name === "slides:view" ? ev.data : null;
      if (view?.deck_id && (ev.data.room ?? MAIN) === MAIN) this.turns.push({ t: ev.t, deck_id: view.deck_id, page: view.page });
    }
  }

  async start() {
    const name = this.manifest.slides;
    if (!name || !this.manifest.files?.[name]) return;
    const resp = await fetch(this.manifest.files[name]);
    if (resp.ok) this.pages = (await resp.json()).pages ?? [];
  }

  render(state) {
    this.state = state;
    const slides = state.slides;
    const view = slides.view;
    const strokes = currentStrokes(slides);
    const board = $("board");
    board.hidden = !view && strokes.size === 0;
    if (board.hidden) return;
    const sheet = $("sheet");
    place(sheet, view);
    const page = this.pages.find((p) => p.deck_id === view?.deck_id && p.page === view?.page);
    setText($("slides-page"), view?.deck_id ? (page?.title || `Slide ${view.page}`) : "Whiteboard");
    const key = `${view?.deck_id ?? ""}:${view?.page ?? 1}`;
    if (key !== this.loader.shown) {
      this.loader.want(key, view?.deck_id ? this.manifest.files?.[slideImage(view.deck_id, view.page)] ?? null : null);
      return;
    }
    if (!boardChanged(slides, this.painted)) return;
    this.painted = boardMark(slides);
    paint($("ink"), [...strokes.values()]);
  }

  // Slides whose title or text holds `q`: a button per time the page was shown.
  search(q) {
    const list = $("slide-results");
    if (!q || !this.pages.length) { list.replaceChildren(); list.hidden = true; return 0; }
    const found = this.pages.filter((p) => `${p.title}\n${p.text}`.toLowerCase().includes(q));
    const items = [];
    for (const p of found) {
      for (const turn of this.turns.filter((x) => x.deck_id === p.deck_id && x.page === p.page)) {
        items.push(h("li", { dataset: { t: turn.t } }, h("button", { type: "button", class: "seek", on: { click: () => this.seek(turn.t) } },
          h("span", { text: `Slide ${p.page}: ${p.title || snippet(p.text, q)}` }))));
      }
    }
    list.replaceChildren(...items);
    list.hidden = items.length === 0;
    return found.length;
  }
}

function snippet(text, q) {
  const at = text.toLowerCase().indexOf(q);
  return text.slice(Math.max(0, at - 30), at + q.length + 30).replace(/\s+/g, " ").trim();
}
