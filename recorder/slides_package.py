"""Slides in a replay package: the images of the pages the class saw, their text, and chapters.

The timeline already holds what the main room's board showed and drew
(`slides:state` at the start, then `slides:view` and `board:*` as they
happened). This adds what those events point at: each deck page shown in
the main room is copied into the package as `slide-<deck>-<page>.webp`
(the replay cannot reach the class's decks), `slides.json` lists them
with their title and text (the replay searches it), and each page turn to
a page with a title becomes a chapter.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from classroom.events import MAIN_ROOM
from recorder.timeline import dumps
from slides.store import DeckStore

Entry = dict[str, Any]
HISTORY = frozenset({"slides:state", "slides:view", "board:ink", "board:erased", "board:cleared"})
"""Timeline entries whose effect lasts: kept at 0 when a trim cuts them off (the board as it
stood when the trimmed recording starts)."""
TITLE_MAX = 120


def image_name(deck_id: str, page: int) -> str:
    return f"slide-{deck_id}-{page:04d}.webp"


def shown_pages(events: list[Entry]) -> list[tuple[int, str, int]]:
    """(t, deck id, page) of each deck page the main room showed, in order."""
    out = []
    for entry in events:
        data = entry["data"]
        view = data.get("view") if entry["name"] == "slides:state" else data
        if entry["name"] not in ("slides:state", "slides:view") or not view:
            continue
        if data.get("room", MAIN_ROOM) == MAIN_ROOM and view.get("deck_id"):
            out.append((int(entry["t"]), str(view["deck_id"]), int(view["page"])))
    return out


def package_slides(
    decks: DeckStore | None, class_id: str, events: list[Entry], out: Path
) -> tuple[str | None, list[Entry]]:
    """Copy the shown pages into `out`, write slides.json; returns its name (None when no
    deck page was shown) and the chapters of the page turns."""
    shown = shown_pages(events)
    if decks is None or not shown:
        return None, []
    pages: dict[tuple[str, int], Entry] = {}
    chapters: list[Entry] = []
    for t, deck_id, page in shown:
        if (deck_id, page) not in pages:
            pages[(deck_id, page)] = _page(decks, class_id, deck_id, page, out)
        title = pages[(deck_id, page)]["title"]
        if title and (not chapters or chapters[-1]["title"] != title):
            chapters.append({"t_ms": t, "title": title})
    kept = [p for p in pages.values() if p["file"] is not None]
    (out / "slides.json").write_bytes(dumps({"pages": kept}))
    return "slides.json", chapters


def _page(decks: DeckStore, class_id: str, deck_id: str, page: int, out: Path) -> Entry:
    found = decks.page(class_id, deck_id, page)
    meta = decks.meta(class_id, deck_id) or {}
    titles = meta.get("titles") or []
    texts = decks.texts(class_id, deck_id)
    name = image_name(deck_id, page)
    if found is not None:
        shutil.copyfile(found, out / name)
    return {
        "deck_id": deck_id,
        "page": page,
        "file": name if found is not None else None,
        "title": str(titles[page - 1])[:TITLE_MAX] if page <= len(titles) else "",
        "text": texts[page - 1] if page <= len(texts) else "",
    }
