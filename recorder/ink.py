"""The main room's board in the composite video: its ink as the timeline has it, and a
page painted with it, with Pillow.

`Board` folds the timeline's `slides:state` and `board:*` entries in time
order, as the replay does; `page_picture` paints a page's strokes the way
the class's canvas does (web/static/js/ink.js): coordinates and widths in
1/10000 of the page's width (height for y), round pens, highlighter at 35 %
opacity, lines, arrows, rectangles, ellipses and text; then it shows the
part of the page the view looked at (zoom, and the point at the centre).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageColor, ImageDraw, ImageFont

from recorder.layout import MAIN_ROOM, View
from recorder.slides_package import image_name

SPAN = 10000
BLANK_SIZE = (1600, 900)
"""A blank page's shape, as the class's board draws it."""
HIGHLIGHTER_ALPHA = round(0.35 * 255)
Entry = dict[str, Any]
Stroke = dict[str, Any]
Surface = tuple[str | None, int]
INK = frozenset({"slides:state", "board:ink", "board:erased", "board:cleared"})


class Board:
    """The main room's strokes page by page, advanced along the timeline."""

    def __init__(self, events: Sequence[Entry]) -> None:
        ink = (e for e in events if e["name"] in INK and e["data"].get("room") == MAIN_ROOM)
        self._pending = sorted(ink, key=lambda entry: entry["t"])
        self._next = 0
        self.pages: dict[Surface, dict[str, Stroke]] = {}
        self.version = 0
        """Grows whenever some page's ink changed."""

    def advance(self, t_ms: float) -> None:
        """Apply every entry up to `t_ms`."""
        while self._next < len(self._pending) and self._pending[self._next]["t"] <= t_ms:
            self._apply(self._pending[self._next])
            self._next += 1
            self.version += 1

    def strokes(self, deck_id: str | None, page: int) -> list[Stroke]:
        return list(self.pages.get((deck_id, page), {}).values())

    def _apply(self, entry: Entry) -> None:
        data = entry["data"]
        surface = (data.get("deck_id"), int(data.get("page", 0)))
        match entry["name"]:
            case "slides:state":
                self.pages = {
                    (p.get("deck_id"), int(p["page"])): {s["stroke_id"]: s for s in p["strokes"]}
                    for p in data.get("ink", [])
                }
            case "board:ink":
                strokes = self.pages.setdefault(surface, {})
                found = strokes.get(data["stroke_id"])
                if found is None and "ink" in data:
                    strokes[data["stroke_id"]] = {
                        "ink": data["ink"],
                        "points": list(data["points"]),
                    }
                elif found is not None:
                    found["points"] = found["points"] + list(data["points"])
            case "board:erased":
                strokes = self.pages.get(surface, {})
                for stroke_id in data.get("stroke_ids", []):
                    strokes.pop(stroke_id, None)
            case "board:cleared":
                self.pages.pop(surface, None)


def page_image(slides: Path | None, view: View) -> Image.Image:
    """The page's own picture: the slide's image from the package, or a blank page."""
    if view.deck_id and slides is not None:
        found = slides / image_name(view.deck_id, view.page)
        if found.is_file():
            with Image.open(found) as image:
                return image.convert("RGB")
    return Image.new("RGB", BLANK_SIZE, "white")


def page_picture(page: Image.Image, strokes: Sequence[Stroke], view: View) -> Image.Image:
    """The page with its ink, cut to what the view shows (the page's own size)."""
    picture = page.copy()
    for stroke in strokes:
        _paint(picture, stroke)
    w, h = picture.size
    zoom = max(view.zoom, 1) / 100
    cx, cy = view.x / SPAN * w, view.y / SPAN * h
    if zoom == 1 and (view.x, view.y) == (SPAN // 2, SPAN // 2):
        return picture
    box = (cx - w / zoom / 2, cy - h / zoom / 2, cx + w / zoom / 2, cy + h / zoom / 2)
    return picture.resize((w, h), Image.Resampling.BILINEAR, box=box)


def _paint(picture: Image.Image, stroke: Stroke) -> None:
    ink, flat = stroke["ink"], stroke["points"]
    w, h = picture.size
    points = [(flat[i] / SPAN * w, flat[i + 1] / SPAN * h) for i in range(0, len(flat) - 1, 2)]
    if not points:
        return
    color = _color(ink.get("color", "#000000"))
    width = max(1, round(ink.get("width", 20) / SPAN * w))
    tool = ink.get("tool")
    if tool == "highlighter":  # drawn opaque on a layer of its own, then laid on at 35 %
        left = int(min(x for x, _ in points) - width)
        top = int(min(y for _, y in points) - width)
        size = (
            int(max(x for x, _ in points) + width) - left + 1,
            int(max(y for _, y in points) + width) - top + 1,
        )
        layer = Image.new("RGBA", size, (0, 0, 0, 0))
        moved = [(x - left, y - top) for x, y in points]
        _line(ImageDraw.Draw(layer), moved, (*color, HIGHLIGHTER_ALPHA), width)
        picture.paste(layer, (left, top), layer)
        return
    draw = ImageDraw.Draw(picture)
    if tool == "text":
        size = max(8, width)
        font = ImageFont.load_default(size=size)
        draw.text(points[0], str(ink.get("text") or ""), fill=color, font=font)
    elif tool in ("rect", "ellipse") and len(points) >= 2:
        (x0, y0), (x1, y1) = points[0], points[1]
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        shape = draw.rectangle if tool == "rect" else draw.ellipse
        shape(box, outline=color, width=width)
    else:
        _line(draw, points, color, width)
        if tool == "arrow" and len(points) >= 2:
            _arrow_head(draw, points[0], points[1], color, width)


def _line(
    draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], fill: Any, width: int
) -> None:
    """A polyline with round joins and caps, as the canvas draws `round`."""
    if len(points) > 1:
        draw.line(points, fill=fill, width=width, joint="curve")
    r = width / 2
    for x, y in (points[0], points[-1]):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)


def _arrow_head(
    draw: ImageDraw.ImageDraw,
    start: tuple[float, float],
    end: tuple[float, float],
    color: tuple[int, int, int],
    width: int,
) -> None:
    angle = math.atan2(end[1] - start[1], end[0] - start[0])
    size = max(10, width * 4)
    corners = [
        (end[0] - size * math.cos(angle + turn), end[1] - size * math.sin(angle + turn))
        for turn in (-0.4, 0.4)
    ]
    draw.polygon([end, *corners], fill=color)


def _color(value: str) -> tuple[int, int, int]:
    try:
        rgb = ImageColor.getrgb(value)
    except ValueError:
        return (0, 0, 0)
    return rgb[0], rgb[1], rgb[2]
