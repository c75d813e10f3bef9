"""Functional tests of breakout rooms over real Socket.IO clients."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import Server, settings_for
from tests.peer import Peer


async def crowd(server: Server, cid: str, n: int) -> list[Peer]:
    return [await server.join(cid, f"p{i:02d}") for i in range(n)]


async def settle(host: Peer, peers: list[Peer], text: str) -> None:
    """A broadcast that every peer receives after everything committed before it."""
    assert (await host.call("breakout:broadcast", {"text": text}))["ok"]
    for peer in peers:
        await peer.wait_for("breakout:message", lambda d: d["text"] == text)


def chats(peer: Peer) -> list[str]:
    return [m["text"] for m in peer.received("chat:message")]


async def open_rooms(host: Peer, **setup: Any) -> list[str]:
    ack = await host.call("breakout:open", setup)
    assert ack["ok"], ack
    return [room["id"] for room in ack["breakouts"]["rooms"]]


async def test_thirty_participants_in_five_rooms(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    people = await crowd(server, cid, 30)
    rooms = await open_rooms(host, count=5, assignment="random")
    assert len(rooms) == 5
    where: dict[str, str] = {}
    for i, peer in enumerate(people):
        opened = await peer.wait_for("breakout:opened")
        assert [r["id"] for r in opened["breakouts"]["rooms"]] == rooms
        assert opened["breakouts"]["ends_at"] is None
        where[f"p{i:02d}"] = (await peer.wait_for("breakout:assigned"))["room_id"]
    assert sorted(Counter(where.values()).values()) == [6] * 5
    # Everyone sees who went where; the host stays in main and was assigned nowhere.
    moved = await host.wait_for("participant:updated", lambda d: d["user_id"] == "p29")
    assert moved["room"] == where["p29"]
    assert not host.received("breakout:assigned")

    # One message per room, sent by the first member of each room.
    speakers = {room: next(u for u, r in where.items() if r == room) for room in rooms}
    for room, user in speakers.items():
        ack = await people[int(user[1:])].call("chat:send", {"text": f"in {room}"})
        assert ack == {"ok": True}
    await settle(host, [host, *people], "back in five minutes")
    for i, peer in enumerate(people):
        assert chats(peer) == [f"in {where[f'p{i:02d}']}"]
        got = peer.received("chat:message")[0]
        assert got["room"] == where[f"p{i:02d}"]
    assert chats(host) == []
    # The broadcast reached every room (and main) once.
    for peer in [host, *people]:
        message = peer.received("breakout:message")
        assert [(m["text"], m["from"]["user_id"]) for m in message] == [
            ("back in five minutes", "teacher")
        ]


async def test_visit_and_return(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    mod = await server.join(cid, "mod", "moderator")
    ann, ben = await server.join(cid, "ann"), await server.join(cid, "ben")
    red, blue = await open_rooms(
        host, count=2, assignment="manual", assignments={"ann": 0, "ben": 1}
    )
    await ben.wait_for("breakout:assigned")
    assert (await host.call("breakout:visit", {"room_id": red}))["ok"]
    await ann.wait_for("participant:updated", lambda d: d["user_id"] == "teacher")
    assert (await ann.call("chat:send", {"text": "welcome, teacher"}))["ok"]
    await host.wait_for("chat:message", lambda d: d["text"] == "welcome, teacher")
    assert (await host.call("chat:send", {"text": "how is it going?"}))["ok"]
    await ann.wait_for("chat:message", lambda d: d["text"] == "how is it going?")
    # Back to main: red's chat no longer reaches the host.
    assert (await host.call("breakout:visit", {"room_id": "main"}))["ok"]
    assert (await ann.call("chat:send", {"text": "after you left"}))["ok"]
    assert (await mod.call("chat:send", {"text": "main again"}))["ok"]
    await host.wait_for("chat:message", lambda d: d["text"] == "main again")
    await settle(host, [host, ann, ben], "sync")
    assert chats(host) == ["welcome, teacher", "how is it going?", "main again"]
    assert chats(ann) == ["welcome, teacher", "how is it going?", "after you left"]
    assert chats(ben) == []
    # A visit is not an assignment.
    host = server.peer(server.token(cid, "teacher", "host"))
    snap = await host.connect()
    assert snap["room"] == "main" and snap["breakouts"]["your_room"] == "main"
    assert snap["breakouts"]["rooms"][0]["assigned"] == ["ann"]
    assert blue in [r["id"] for r in snap["breakouts"]["rooms"]]
    ack = await host.call("breakout:visit", {"room_id": "b-nowhere"})
    assert ack["error"]["code"] == "not_found"


async def test_help_requests_reach_staff_only(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    mod = await server.join(cid, "mod", "moderator")
    ann, ben = await server.join(cid, "ann"), await server.join(cid, "ben")
    red, _ = await open_rooms(host, count=2, assignment="manual", assignments={"ann": 0, "ben": 0})
    await ann.wait_for("breakout:assigned")
    assert (await ann.call("breakout:help"))["ok"]
    for staff in (host, mod):
        asked = await staff.wait_for("breakout:help_requested")
        assert (asked["room_id"], asked["user_id"]) == (red, "ann")
    await settle(host, [ann, ben], "sync")
    assert not ann.received("breakout:help_requested")
    assert not ben.received("breakout:help_requested")
    # A moderator who joins later sees the open call, until someone goes there.
    late = await server.join(cid, "mod2", "moderator")
    help_list = late.received("class:state")[0]["breakouts"]["help"]
    assert [(h["room_id"], h["user_id"]) for h in help_list] == [(red, "ann")]
    assert "help" not in ben.received("class:state")[0]
    assert (await mod.call("breakout:visit", {"room_id": red}))["ok"]
    again = await server.peer(server.token(cid, "mod2", "moderator")).connect()
    assert again["breakouts"]["help"] == []
    main_ack = await host.call("breakout:close", {"grace_s": 0})
    assert main_ack["ok"]
    await ann.wait_for("breakout:closed")
    ack = await ann.call("breakout:help")
    assert ack["error"]["code"] == "conflict"


async def test_timer_closes_the_rooms_and_everyone_is_back_in_main(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    people = await crowd(server, cid, 4)
    await people[3].close()  # absent during the rooms, back afterwards
    await host.wait_for("participant:left", lambda d: d["user_id"] == "p03")
    ack = await host.call(
        "breakout:open",
        {
            "count": 2,
            "assignment": "manual",
            "duration_s": 2,
            "grace_s": 1,
            "assignments": {"p00": 0, "p01": 1, "p02": 1, "p03": 0, "teacher": 1},
        },
    )
    assert ack["ok"]
    ends_at = ack["breakouts"]["ends_at"]
    one, two = (r["id"] for r in ack["breakouts"]["rooms"])
    late = await server.join(cid, "late")
    assert late.received("class:state")[0]["breakouts"]["ends_at"] == ends_at
    assert (await people[0].call("chat:send", {"text": "room one talk"}))["ok"]
    for peer in [host, *people[:3], late]:
        closing = await peer.wait_for("breakout:closing")
        assert closing["in_s"] == 1 and closing["ts"] >= ends_at
        closed = await peer.wait_for("breakout:closed")
        assert closed["seq"] > closing["seq"]
        assert closed["ts"] - closing["ts"] >= 900  # the grace, give or take a wake-up
    # Every move back to main came before `breakout:closed`.
    names = [(n, d.get("user_id"), d.get("room")) for n, d in host.events]
    back = [
        i for i, (n, _, room) in enumerate(names) if n == "participant:updated" and room == "main"
    ]
    assert {names[i][1] for i in back} == {"p00", "p01", "p02", "p03", "teacher"}
    assert max(back) < max(i for i, (n, _, _) in enumerate(names) if n == "breakout:closed")
    # Chat now reaches everyone again.
    assert (await people[1].call("chat:send", {"text": "together again"}))["ok"]
    for peer in [host, people[0], people[2], late]:
        await peer.wait_for("chat:message", lambda d: d["text"] == "together again")
    # Fresh snapshots: main for all, no rooms, including the absent member.
    for user, role in (("p00", "participant"), ("p03", "participant"), ("teacher", "host")):
        snap = await server.peer(server.token(cid, user, role)).connect()
        assert snap["room"] == "main" and snap["you"]["room"] == "main"
        assert snap["breakouts"] is None
        assert {p["room"] for p in snap["participants"]} == {"main"}
        assert "room one talk" not in [m["text"] for m in snap["chat"]]
    assert one != two


async def test_reconnect_mid_breakout_lands_in_the_same_room(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    ann, ben, cat = [await server.join(cid, u) for u in ("ann", "ben", "cat")]
    red, blue = await open_rooms(
        host, count=2, assignment="manual", assignments={"ann": 0, "ben": 0, "cat": 1}
    )
    await ann.wait_for("breakout:assigned")
    assert (await ben.call("chat:send", {"text": "red before"}))["ok"]
    await ann.wait_for("chat:message", lambda d: d["text"] == "red before")
    await ann.close()
    # A fresh connection: the snapshot is the room's, not main's.
    ann2 = server.peer(server.token(cid, "ann"))
    again = await ann2.connect()
    assert again["room"] == red and again["you"]["room"] == red
    assert again["breakouts"]["your_room"] == red
    assert [m["text"] for m in again["chat"]] == ["red before"]
    assert (await cat.call("chat:send", {"text": "blue only"}))["ok"]
    assert (await ben.call("chat:send", {"text": "red after"}))["ok"]
    await ann2.wait_for("chat:message", lambda d: d["text"] == "red after")
    assert chats(ann2) == ["red after"]
    assert blue != red


async def test_catch_up_follows_the_moves(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    ann, ben = await server.join(cid, "ann"), await server.join(cid, "ben")
    await host.wait_for("participant:joined", lambda d: d["user_id"] == "ben")
    last = ann.last_seq
    await ann.close()
    await host.wait_for("participant:left", lambda d: d["user_id"] == "ann")
    assert (await host.call("chat:send", {"text": "main before"}))["ok"]
    red, _ = await open_rooms(host, count=2, assignment="manual", assignments={"ben": 0})
    assert (await host.call("breakout:assign", {"user_id": "ann", "room_id": red}))["ok"]
    assert (await ben.call("chat:send", {"text": "red after"}))["ok"]
    assert (await host.call("chat:send", {"text": "main after"}))["ok"]
    back = server.peer(server.token(cid, "ann"))
    resumed = await back.connect(last_seq=last)
    assert chats(back) == ["main before", "red after"]
    assigned = back.received("breakout:assigned")
    assert [a["room_id"] for a in assigned] == [red]
    assert resumed["seq"] >= assigned[0]["seq"]
    assert (await ben.call("chat:send", {"text": "live in red"}))["ok"]
    await back.wait_for("chat:message", lambda d: d["text"] == "live in red")


async def test_chat_sent_around_a_move_goes_to_the_room_of_its_seq(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    ann, ben, cat = [await server.join(cid, u) for u in ("ann", "ben", "cat")]
    red, _ = await open_rooms(host, count=2, assignment="manual", assignments={"cat": 0})
    await cat.wait_for("breakout:assigned")
    sends = [ann.call("chat:send", {"text": f"m{i}"}) for i in range(8)]
    move = host.call("breakout:assign", {"user_id": "ann", "room_id": red})
    acks = await asyncio.gather(*sends[:4], move, *sends[4:])
    assert all(ack["ok"] for ack in acks)
    await settle(host, [ann, ben, cat], "sync")
    sent = ann.received("chat:message")
    assert sorted(m["text"] for m in sent) == [f"m{i}" for i in range(8)]
    in_main = [m["text"] for m in sent if m["room"] == "main"]
    in_red = [m["text"] for m in sent if m["room"] == red]
    assert chats(ben) == in_main and chats(cat) == in_red
    assert [m["text"] for m in host.received("chat:message")] == in_main


async def test_self_choice_and_refusals(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    ann, ben, cat = [await server.join(cid, u) for u in ("ann", "ben", "cat")]
    for event, data in (
        ("breakout:open", {"count": 2, "assignment": "random"}),
        ("breakout:plan", {"count": 2, "assignment": "random"}),
        ("breakout:assign", {"user_id": "ben", "room_id": "main"}),
        ("breakout:broadcast", {"text": "hi"}),
        ("breakout:visit", {"room_id": "main"}),
        ("breakout:close", {}),
    ):
        ack = await ann.call(event, data)
        assert ack["error"]["code"] == "forbidden", (event, ack)
    assert (await ann.call("breakout:choose", {"room_id": "main"}))["error"]["code"] == "conflict"
    assert (await host.call("breakout:open", {"count": 0}))["error"]["code"] == "bad_request"
    one, two = await open_rooms(host, count=2, assignment="self", cap=2)
    snap = await server.peer(server.token(cid, "dan")).connect()
    assert snap["breakouts"]["assignment"] == "self" and snap["breakouts"]["cap"] == 2
    assert (await ann.call("breakout:choose", {"room_id": one}))["ok"]
    assert (await ben.call("breakout:choose", {"room_id": one}))["ok"]
    full = await cat.call("breakout:choose", {"room_id": one})
    assert full["error"]["code"] == "conflict"
    assert (await cat.call("breakout:choose", {"room_id": "b-none"}))["error"][
        "code"
    ] == "not_found"
    assert (await cat.call("breakout:choose", {"room_id": two}))["ok"]
    assert (await cat.wait_for("breakout:assigned"))["room_id"] == two
    assert (await host.call("breakout:open", {"count": 1, "assignment": "self"}))["error"][
        "code"
    ] == "conflict"
    assert (await host.call("breakout:close", {"grace_s": 0}))["ok"]
    await cat.wait_for("breakout:closed")
    manual = await open_rooms(host, count=1, assignment="manual")
    ack = await ann.call("breakout:choose", {"room_id": manual[0]})
    assert ack["error"]["code"] == "conflict"


async def test_draft_plan_then_open(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    mod = await server.join(cid, "mod", "moderator")
    ann = await server.join(cid, "ann")
    ack = await host.call(
        "breakout:plan",
        {
            "rooms": [{"name": "Pairs"}, {"name": "Trios"}],
            "assignment": "manual",
            "duration_s": 600,
        },
    )
    assert ack["ok"]
    pairs, trios = (r["id"] for r in ack["plan"]["rooms"])
    assert (await mod.wait_for("breakout:planned"))["plan"]["rooms"][0]["name"] == "Pairs"
    assert (await mod.call("breakout:assign", {"user_id": "ann", "room_id": trios}))["ok"]
    edited = await host.wait_for("breakout:planned", lambda d: d["plan"]["assignments"])
    assert edited["plan"]["assignments"] == {"ann": trios}
    # Meanwhile the main room goes on, and participants see no draft.
    assert (await ann.call("chat:send", {"text": "still in main"}))["ok"]
    await host.wait_for("chat:message", lambda d: d["text"] == "still in main")
    assert not ann.received("breakout:planned")
    ann2 = server.peer(server.token(cid, "ann"))
    assert (await ann2.connect())["breakouts"] is None
    opened = await host.call("breakout:open", {})
    assert opened["ok"] and [r["id"] for r in opened["breakouts"]["rooms"]] == [pairs, trios]
    assert (await ann2.wait_for("breakout:assigned"))["room_id"] == trios
    assert (await host.call("breakout:extend", {"seconds": 60}))["ok"]
    extended = await ann2.wait_for("breakout:extended")
    assert extended["ends_at"] == opened["breakouts"]["ends_at"] + 60_000


async def test_rooms_close_on_time_after_a_restart(tmp_path: Path) -> None:
    first = Server(settings_for(tmp_path))
    await first.start()
    cid = await first.create_class()
    host = await first.join(cid, "teacher", "host")
    await first.join(cid, "ann")
    await open_rooms(host, count=1, assignment="random", duration_s=5, grace_s=0)
    await first.stop()
    second = Server(settings_for(tmp_path))
    await second.start()
    try:
        host = await second.join(cid, "teacher", "host")
        snap = host.received("class:state")[0]
        assert snap["breakouts"]["open"] is True
        await host.wait_for("breakout:closed")
        ann = await second.join(cid, "ann")
        assert ann.received("class:state")[0]["room"] == "main"
    finally:
        await second.stop()
