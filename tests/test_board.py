"""The whiteboard over a real server: ink live to the room, a late joiner's snapshot,
permissions, each breakout room's board its own, and the strokes that are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classroom.board import STROKE_POINTS
from classroom.commands import BATCH_POINTS
from signaling.ratelimit import Rate, RateLimiter
from tests.conftest import Server, running, settings_for
from tests.peer import Peer
from web.keys import GATEWAY

PEN = {"tool": "pen", "color": "#D02020", "width": 12}


def batch(stroke: str, points: list[int], first: bool = False, done: bool = False) -> Any:
    return {"stroke": stroke, "points": points, **(PEN if first else {}), "done": done}


async def draw(peer: Peer, stroke: str, batches: list[list[int]]) -> None:
    """A pen stroke in batches, the way a client sends one while the pointer moves."""
    for i, points in enumerate(batches):
        ack = await peer.call("board:draw", batch(stroke, points, i == 0, i == len(batches) - 1))
        assert ack == {"ok": True}, ack


def code(ack: Any) -> str:
    assert ack["ok"] is False, ack
    return str(ack["error"]["code"])


async def test_ink_reaches_the_room_live_and_a_late_joiner_in_its_snapshot(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    ana = await server.join(cid, "ana")
    assert (await host.call("slides:show", {"page": 3}))["ok"]  # blank page 3
    await draw(host, "stroke-1", [[100, 100, 200, 200], [300, 300, 400, 350]])
    first = await ana.wait_for("board:ink")
    assert first == first | {"stroke_id": "stroke-1", "user_id": "teacher", "room": "main"}
    assert first["ink"] == {"tool": "pen", "color": "#d02020", "width": 12}
    assert (first["deck_id"], first["page"], first["points"]) == (None, 3, [100, 100, 200, 200])
    last = await ana.wait_for("board:ink", lambda d: d["done"])
    assert "ink" not in last and last["points"] == [300, 300, 400, 350]
    shape = {"stroke": "rect-1", "points": [10, 10, 900, 900], "tool": "rect"}
    assert (await host.call("board:draw", shape | {"color": "#000000", "width": 4}))["ok"]
    label = {"stroke": "text-1", "points": [50, 60], "tool": "text", "text": "x = 2"}
    assert (await host.call("board:draw", label | {"color": "#000000", "width": 40}))["ok"]
    await ana.wait_for("board:ink", lambda d: d["stroke_id"] == "text-1")

    late = server.peer(server.token(cid, "ben"))
    state = await late.connect()
    slides = state["slides"]
    assert slides["view"] == {"deck_id": None, "page": 3, "zoom": 100, "x": 5000, "y": 5000}
    (page,) = slides["ink"]
    assert (page["deck_id"], page["page"]) == (None, 3)
    strokes = page["strokes"]
    assert [s["stroke_id"] for s in strokes] == ["stroke-1", "rect-1", "text-1"]
    assert strokes[0]["points"] == [100, 100, 200, 200, 300, 300, 400, 350]
    assert strokes[0]["done"] and strokes[1]["done"] and strokes[2]["ink"]["text"] == "x = 2"

    # Undo takes the last stroke of one's own; clear takes them all.
    assert (await host.call("board:undo"))["ok"]
    erased = await ana.wait_for("board:erased")
    assert (erased["stroke_ids"], erased["page"]) == (["text-1"], 3)
    assert (await host.call("board:clear"))["ok"]
    await ana.wait_for("board:cleared")
    state = await server.peer(server.token(cid, "cat")).connect()
    assert state["slides"]["ink"] == []


async def test_who_may_draw(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    ana = await server.join(cid, "ana")
    ben = await server.join(cid, "ben")
    assert (
        code(await ana.call("board:draw", batch("ana-stroke-1", [1, 1, 2, 2], True))) == "forbidden"
    )
    assert code(await ana.call("board:open", {"everyone": True})) == "forbidden"
    assert (await host.call("board:open", {"everyone": True}))["ok"]
    assert (await ana.wait_for("board:opened"))["everyone"] is True
    await draw(ana, "ana-stroke-1", [[1, 1, 2, 2]])
    await draw(ben, "ben-stroke-1", [[5, 5, 6, 6]])
    await host.wait_for("board:ink", lambda d: d["stroke_id"] == "ben-stroke-1")
    # A participant erases their own strokes only, and clears nothing; the host erases any.
    assert code(await ana.call("board:erase", {"strokes": ["ben-stroke-1"]})) == "forbidden"
    assert code(await ana.call("board:clear")) == "forbidden"
    assert code(await ana.call("board:draw", batch("ben-stroke-1", [7, 7]))) == "conflict"
    assert (await ana.call("board:erase", {"strokes": ["ana-stroke-1"]}))["ok"]
    assert (await host.call("board:erase", {"strokes": ["ben-stroke-1"]}))["ok"]
    assert (await host.call("board:open", {"everyone": False}))["ok"]
    await ana.wait_for("board:opened", lambda d: not d["everyone"])
    assert (
        code(await ana.call("board:draw", batch("ana-stroke-2", [1, 1, 2, 2], True))) == "forbidden"
    )
    # A presenter draws and clears whatever the board's setting.
    assert (await host.call("slides:presenter", {"user_id": "ben"}))["ok"]
    await ben.wait_for("slides:presenter")
    await draw(ben, "ben-stroke-2", [[5, 5, 6, 6]])
    assert (await ben.call("board:clear"))["ok"]


async def test_malformed_strokes_are_refused_and_change_nothing(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    bad: list[tuple[Any, str]] = [
        (batch("odd-stroke-1", [1, 2, 3], True), "bad_request"),  # not x, y pairs
        (batch("far-stroke-1", [1, 2, 10_001, 5], True), "bad_request"),  # off the page
        (batch("neg-stroke-1", [-1, 2, 3, 4], True), "bad_request"),
        (batch("long-stroke-1", [1] * (2 * BATCH_POINTS + 2), True), "too_large"),
        (batch("one-stroke-1", [1], True), "bad_request"),
        (batch("no-look", [1, 2, 3, 4]), "bad_request"),  # a new stroke says how it looks
        (batch("bad id!", [1, 2, 3, 4], True), "bad_request"),
        (batch("c-stroke-1", [1, 2, 3, 4]) | {**PEN, "color": "red"}, "bad_request"),
        (batch("w-stroke-1", [1, 2, 3, 4]) | {**PEN, "width": 0}, "bad_request"),
        (batch("t-stroke-1", [1, 2, 3, 4]) | {**PEN, "tool": "laser"}, "bad_request"),
        (batch("t-stroke-2", [1, 2]) | {**PEN, "tool": "text"}, "bad_request"),  # text without text
        (batch("t-stroke-3", [1, 2, 3, 4]) | {**PEN, "text": "hi"}, "bad_request"),
        (batch("r-stroke-1", [1, 2, 3, 4, 5, 6]) | {**PEN, "tool": "rect"}, "bad_request"),
        (batch("x-stroke-1", "1,2"), "bad_request"),
        ({"stroke": "y-stroke-1"}, "bad_request"),
        ("not an object", "bad_request"),
    ]
    for payload, expected in bad:
        assert code(await host.call("board:draw", payload)) == expected, payload
    assert code(await host.call("board:erase", {"strokes": []})) == "bad_request"
    assert code(await host.call("board:undo")) == "conflict"  # nothing to undo
    # A stroke's look is set once; a finished stroke takes no more points.
    await draw(host, "good-stroke-1", [[1, 1, 2, 2]])
    assert code(await host.call("board:draw", batch("good-stroke-1", [3, 3]))) == "conflict"
    assert (await host.call("board:draw", batch("good-stroke-2", [1, 1], True)))["ok"]
    assert (
        code(await host.call("board:draw", batch("good-stroke-2", [3, 3], True))) == "bad_request"
    )
    # A stroke has at most STROKE_POINTS points.
    await host.call("board:draw", batch("huge-stroke-1", [5, 5] * BATCH_POINTS, True))
    ack: Any = {"ok": True}
    for _ in range(STROKE_POINTS // BATCH_POINTS):
        ack = await host.call("board:draw", batch("huge-stroke-1", [5, 5] * BATCH_POINTS))
        if not ack["ok"]:
            break
    assert code(ack) == "too_large"
    state = await server.peer(server.token(cid, "ben")).connect()
    (page,) = state["slides"]["ink"]
    assert [s["stroke_id"] for s in page["strokes"]] == [
        "good-stroke-1",
        "good-stroke-2",
        "huge-stroke-1",
    ]


async def test_each_breakout_room_has_its_own_board(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    ana = await server.join(cid, "ana")
    ben = await server.join(cid, "ben")
    assert (await host.call("board:open", {"everyone": True}))["ok"]
    await draw(host, "main-stroke-1", [[1, 1, 2, 2]])
    ack = await host.call(
        "breakout:open", {"count": 2, "assignment": "manual", "assignments": {"ana": 0, "ben": 1}}
    )
    red, blue = (room["id"] for room in ack["breakouts"]["rooms"])
    for peer in (ana, ben):
        await peer.wait_for("breakout:assigned")
    before = len(ana.events)
    assert (await ana.call("slides:show", {"page": 2}))["error"]["code"] == "forbidden"
    await draw(ana, "red-stroke-1", [[10, 10, 20, 20]])
    await draw(ben, "blue-stroke-1", [[30, 30, 40, 40]])
    inked = await ana.wait_for("board:ink", after=before)
    assert (inked["room"], inked["stroke_id"]) == (red, "red-stroke-1")
    await ben.wait_for("board:ink", lambda d: d["stroke_id"] == "blue-stroke-1")
    assert [d["stroke_id"] for d in ana.received("board:ink")[-1:]] == ["red-stroke-1"]
    assert not [d for d in ben.received("board:ink") if d["stroke_id"] == "red-stroke-1"]
    # The host visits a room and draws on its board, not the main room's.
    assert (await host.call("breakout:visit", {"room_id": red}))["ok"]
    await draw(host, "visit-stroke-1", [[50, 50, 60, 60]])
    visit = await ana.wait_for("board:ink", lambda d: d["stroke_id"] == "visit-stroke-1")
    assert visit["room"] == red
    assert (await host.call("breakout:visit", {"room_id": "main"}))["ok"]
    # When the rooms close, their boards go; the main room's ink is still there.
    assert (await host.call("breakout:close", {"grace_s": 0}))["ok"]
    await ana.wait_for("breakout:closed")
    state = await server.peer(server.token(cid, "cat")).connect()
    (page,) = state["slides"]["ink"]
    assert [s["stroke_id"] for s in page["strokes"]] == ["main-stroke-1"]
    assert blue


async def test_ink_is_rate_limited(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path)) as srv:
        srv.app[GATEWAY].limiter = RateLimiter({"board": Rate(0.001, 3)})
        cid = await srv.create_class()
        host = await srv.join(cid, "teacher", "host")
        acks = [
            await host.call("board:draw", batch(f"fast-{i:02d}", [1, 1, 2, 2], True))
            for i in range(5)
        ]
        assert [a["ok"] for a in acks[:3]] == [True] * 3
        assert code(acks[-1]) == "rate_limited"
