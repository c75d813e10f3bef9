"""Where decks live on disk: one folder per deck, addressed by opaque ids only.

    slides/<class id>/<deck id>/upload.pdf        the upload, until it is rendered
    slides/<class id>/<deck id>/page-0001.webp    each page as an image
    slides/<class id>/<deck id>/deck.json         name, pages, each page's size and title
    slides/<class id>/<deck id>/text.json         each page's text

Only ids that match `DECK_ID` (and the class id pattern) ever become paths.
In a cluster the data directory is shared, so every node finds every deck.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

CLASS_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DECK_ID = re.compile(r"^d[0-9a-f]{16}$")
UPLOAD = "upload.pdf"


def new_deck_id() -> str:
    return "d" + secrets.token_hex(8)


def page_file(page: int) -> str:
    return f"page-{page:04d}.webp"


class DeckStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, class_id: str, deck_id: str) -> Path:
        if not CLASS_ID.match(class_id) or not DECK_ID.match(deck_id):
            raise ValueError("not a class or deck id")
        return self.root / class_id / deck_id

    def create(self, class_id: str, deck_id: str) -> Path:
        folder = self.folder(class_id, deck_id)
        folder.mkdir(parents=True, exist_ok=False)
        return folder

    def meta(self, class_id: str, deck_id: str) -> dict[str, Any] | None:
        """deck.json of a rendered deck; None while it is not (or for a bad id)."""
        try:
            found: dict[str, Any] = json.loads(
                (self.folder(class_id, deck_id) / "deck.json").read_bytes()
            )
        except (ValueError, OSError):
            return None
        return found

    def texts(self, class_id: str, deck_id: str) -> list[str]:
        try:
            found = json.loads((self.folder(class_id, deck_id) / "text.json").read_bytes())
        except (ValueError, OSError):
            return []
        return [t if isinstance(t, str) else "" for t in found.get("pages", [])]

    def page(self, class_id: str, deck_id: str, page: int) -> Path | None:
        """The image of a page of a rendered deck, if there is one."""
        try:
            path = self.folder(class_id, deck_id) / page_file(page)
        except ValueError:
            return None
        return path if page >= 1 and path.is_file() else None

    def discard(self, class_id: str, deck_id: str) -> None:
        shutil.rmtree(self.folder(class_id, deck_id), ignore_errors=True)
