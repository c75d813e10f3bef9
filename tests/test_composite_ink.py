"""The board in the composite: ink folded from the timeline, and painted with Pillow."""

from __future__ import annotations

from typing import Any

from PIL import Image

from recorder.ink import Board, page_picture
from recorder.layout import Rect, View, fit

Entry = dict[str, Any]
WHITE = (255, 255, 255)


def ink(t: int, stroke: str, points: list[int], look: Entry | None = None, **at: Any) -> Entry:
    data: Entry = {"room": "main", "deck_id": "d", "page": 1, "stroke_id": stroke}
    data |= {"points": points, "done": look is None} | at
    if look is not None:
        data["ink"] = look
    return {"t": t, "name": "board:ink", "data": data}


PEN = {"tool": "pen", "color": "#ff0000", "width": 100}


def test_the_board_follows_its_timeline() -> None:
    state = {
        "room": "main",
        "view": {"deck_id": "d", "page": 1},
        "ink": [
            {
                "deck_id": "d",
                "page": 1,
                "strokes": [{"stroke_id": "old", "ink": PEN, "points": [0, 0], "done": True}],
            }
        ],
    }
    events = [
        {"t": 0, "name": "slides:state", "data": state},
        ink(100, "a", [1, 2, 3, 4], PEN),
        ink(150, "a", [5, 6]),  # the stroke's next batch
        ink(160, "x", [1, 1], PEN, room="r1"),  # a breakout room's board: not shown
        ink(170, "b", [7, 8], PEN, page=2),
        {
            "t": 200,
            "name": "board:erased",
            "data": {"room": "main", "deck_id": "d", "page": 1, "stroke_ids": ["old"]},
        },
        {"t": 300, "name": "board:cleared", "data": {"room": "main", "deck_id": "d", "page": 2}},
    ]
    board = Board(events)
    board.advance(0)
    assert [s["points"] for s in board.strokes("d", 1)] == [[0, 0]]
    board.advance(160)
    assert [s["points"] for s in board.strokes("d", 1)] == [[0, 0], [1, 2, 3, 4, 5, 6]]
    version = board.version
    board.advance(199)
    assert board.strokes("d", 2)[0]["points"] == [7, 8] and board.version == version + 1
    board.advance(10_000)
    assert [s["points"] for s in board.strokes("d", 1)] == [[1, 2, 3, 4, 5, 6]]
    assert board.strokes("d", 2) == []


def test_each_tool_paints_as_the_class_board_does() -> None:
    page = Image.new("RGB", (1000, 500), WHITE)
    strokes = [
        {
            "ink": {"tool": "pen", "color": "#ff0000", "width": 100},
            "points": [1000, 2000, 9000, 2000],
        },
        {
            "ink": {"tool": "highlighter", "color": "#0000ff", "width": 400},
            "points": [1000, 5000, 9000, 5000],
        },
        {
            "ink": {"tool": "rect", "color": "#00ff00", "width": 50},
            "points": [1000, 7000, 3000, 9000],
        },
        {
            "ink": {"tool": "text", "color": "#000000", "width": 300, "text": "Hi"},
            "points": [6000, 7000],
        },
    ]
    painted = page_picture(page, strokes, View("d", 1))
    assert painted.getpixel((500, 100)) == (255, 0, 0)  # the pen, 10 px wide
    assert painted.getpixel((500, 90)) == WHITE
    blue = painted.getpixel((500, 250))  # the highlighter: the page shows through, 35 %
    assert isinstance(blue, tuple) and blue[2] == 255 and 160 <= blue[0] <= 170
    assert painted.getpixel((100, 400)) == (0, 255, 0)  # the rectangle's edge
    assert painted.getpixel((200, 400)) == WHITE  # and not its inside
    text = painted.crop((600, 350, 700, 390))
    assert (0, 0, 0) in [c for _, c in (text.getcolors(10_000) or [])]
    assert page.getpixel((500, 100)) == WHITE  # the page itself is left as it was


def test_a_zoomed_view_shows_the_part_looked_at() -> None:
    page = Image.new("RGB", (1000, 500), WHITE)
    dot = [{"ink": {"tool": "pen", "color": "#000000", "width": 200}, "points": [2500, 2500]}]
    # Zoomed 200 % on the top left quarter: the dot is at the centre, twice as large.
    zoomed = page_picture(page, dot, View("d", 1, zoom=200, x=2500, y=2500))
    assert zoomed.size == (1000, 500)
    assert zoomed.getpixel((500, 250)) == (0, 0, 0)
    assert zoomed.getpixel((500 + 15, 250)) == (0, 0, 0)  # 20 px wide, now 40
    assert zoomed.getpixel((500 + 25, 250)) == WHITE


def test_a_picture_fits_its_place_centred() -> None:
    assert fit(1600, 900, Rect(0, 0, 960, 720)) == Rect(0, 90, 960, 540)
    assert fit(320, 240, Rect(960, 240, 160, 120)) == Rect(960, 240, 160, 120)
    assert fit(480, 640, Rect(0, 0, 640, 720)) == Rect(50, 0, 540, 720)
