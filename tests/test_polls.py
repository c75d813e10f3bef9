"""Functional tests of live polls over real Socket.IO clients."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from signaling.auth import mint
from signaling.coalesce import INTERVAL_S
from tests.conftest import ADMIN, SECRET, Server
from tests.peer import Peer
from tests.process import ServerProcess

OPTIONS = ["North", "East", "South", "West"]


async def new_poll(host: Peer, open_it: bool = True, **spec: Any) -> str:
    spec.setdefault("question", "Where to?")
    spec.setdefault("kind", "single")
    if spec["kind"] in ("single", "multiple"):
        spec.setdefault("options", OPTIONS)
    ack = await host.call("poll:create", spec)
    assert ack["ok"], ack
    if open_it:
        assert (await host.call("poll:open", {"poll_id": ack["poll_id"]}))["ok"]
    return str(ack["poll_id"])


def tally(peer: Peer, poll_id: str) -> list[dict[str, Any]]:
    return [d for d in peer.received("poll:results") if d["poll_id"] == poll_id]


async def test_poll_lifecycle(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teach", "host")
    ann, ben = await server.join(cid, "ann"), await server.join(cid, "ben")
    ack = await ann.call("poll:create", {"question": "Mine?", "kind": "text"})
    assert ack["error"]["code"] == "forbidden"
    poll_id = await new_poll(host, open_it=False, correct=[2])
    created = await host.wait_for("poll:created")
    assert created["poll"]["correct"] == [2] and created["poll"]["status"] == "draft"
    ack = await ann.call("poll:vote", {"poll_id": poll_id, "answer": [0]})
    assert ack["error"]["code"] == "not_found"  # a draft is invisible to participants
    assert (await host.call("poll:open", {"poll_id": poll_id}))["ok"]
    opened = await ann.wait_for("poll:opened")
    assert opened["poll"]["id"] == poll_id and opened["poll"]["options"] == OPTIONS
    assert "correct" not in opened["poll"] and opened["poll"]["quiz"] is True
    assert not ann.received("poll:created")

    assert await ann.call("poll:vote", {"poll_id": poll_id, "answer": [2]}) == {"ok": True}
    assert (await ben.call("poll:vote", {"poll_id": poll_id, "answer": [1]}))["ok"]
    live = await host.wait_for("poll:results", lambda d: d["voters"] == 2)
    assert (
        live["counts"] == [0, 1, 1, 0]
        and live["total"] == 2
        and live["as_of"] > 0
        and "seq" not in live
    )
    assert not ann.received("poll:results")  # hidden until the host shows them

    assert (await host.call("poll:show_results", {"poll_id": poll_id}))["ok"]
    shown = await ann.wait_for("poll:results_shown")
    assert shown["shown"] and shown["results"]["counts"] == [0, 1, 1, 0]
    assert (await ben.call("poll:vote", {"poll_id": poll_id, "answer": [2]}))["ok"]
    await ann.wait_for("poll:results", lambda d: d["counts"] == [0, 0, 2, 0])

    assert (await host.call("poll:close", {"poll_id": poll_id}))["ok"]
    closed = await ann.wait_for("poll:closed")
    assert closed["results"]["counts"] == [0, 0, 2, 0] and closed["reason"] == "host"
    ack = await ann.call("poll:vote", {"poll_id": poll_id, "answer": [3]})
    assert ack["error"]["code"] == "conflict"
    ack = await ann.call("poll:vote", {"poll_id": "nope", "answer": [3]})
    assert ack["error"]["code"] == "not_found"
    ack = await ann.call("poll:publish", {"poll_id": poll_id})
    assert ack["error"]["code"] == "forbidden"

    assert (await host.call("poll:publish", {"poll_id": poll_id}))["ok"]
    published = await ben.wait_for("poll:published")
    assert published["correct"] == [2] and published["results"]["voters"] == 2
    mine = await ann.wait_for("poll:feedback")
    assert mine == mine | {"poll_id": poll_id, "answer": [2], "correct": True}
    assert len(ann.received("poll:feedback")) == 1
    assert (await ben.wait_for("poll:feedback"))["answer"] == [2]
    assert not host.received("poll:feedback")
    board = await host.call("poll:leaderboard")
    assert board["quizzes"] == 1
    assert [(r["rank"], r["user_id"], r["correct"]) for r in board["leaderboard"]] == [
        (1, "ann", 1),
        (1, "ben", 1),
    ]
    assert (await ann.call("poll:leaderboard"))["error"]["code"] == "forbidden"

    # A newcomer's snapshot holds the poll, its results and the answer key, no ballots.
    late = await server.join(cid, "cat")
    (poll,) = late.received("class:state")[0]["polls"]
    assert poll["status"] == "published" and poll["correct"] == [2]
    assert poll["results"]["counts"] == [0, 0, 2, 0] and "yours" not in poll


async def test_every_kind_over_the_wire(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teach", "host")
    ann = await server.join(cid, "ann")
    cases: list[tuple[dict[str, Any], Any, dict[str, Any]]] = [
        ({"kind": "multiple"}, [0, 3], {"counts": [1, 0, 0, 1], "total": 2}),
        ({"kind": "truefalse"}, [1], {"counts": [0, 1]}),
        ({"kind": "rating", "min": 0, "max": 3}, 2, {"counts": [0, 0, 1, 0], "mean": 2}),
        ({"kind": "text"}, "Photosynthesis rocks", {"counts": []}),
    ]
    for spec, answer, expected in cases:
        poll_id = await new_poll(host, **spec)
        assert (await ann.call("poll:vote", {"poll_id": poll_id, "answer": answer}))["ok"]
        got = await host.wait_for("poll:results", lambda d, p=poll_id: d["poll_id"] == p)
        assert got == got | expected | {"voters": 1}
    assert got["words"] == [{"word": "photosynthesis", "count": 1}, {"word": "rocks", "count": 1}]
    ack = await ann.call("poll:vote", {"poll_id": poll_id, "answer": [0]})
    assert ack["error"]["code"] == "bad_request"
    ack = await ann.call("poll:vote", {"poll_id": poll_id, "answer": "x" * 301})
    assert ack["error"]["code"] == "too_large"


CROWD_WAIT_S = 60.0
"""A few hundred clients share the test's process: on a loaded machine they need time."""


async def connect_all(server: Server, cid: str, users: list[str], batch: int = 25) -> list[Peer]:
    peers: list[Peer] = []
    for start in range(0, len(users), batch):
        group = [server.peer(server.token(cid, u)) for u in users[start : start + batch]]
        for peer in group:
            peer.wait_s = CROWD_WAIT_S
        await asyncio.gather(*(p.connect() for p in group))
        peers.extend(group)
    return peers


LEAKY = ("participant:joined", "participant:left", "participant:updated")
"""Events that name people by design; everything else must not name a voter."""


def leaks(peer: Peer, voters: set[str]) -> list[str]:
    found = []
    for name, data in peer.events:
        if name in LEAKY:
            continue
        if name == "class:state":
            data = {"polls": data["polls"], "questions": data["questions"]}
        text = json.dumps(data, default=str)
        found += [f"{name}: {v}" for v in voters if f'"{v}"' in text and v != peer_user(peer)]
    return found


def peer_user(peer: Peer) -> str:
    return str(peer.received("class:state")[0]["you"]["user_id"])


async def test_a_storm_of_300_voters_ends_on_exact_tallies(msgpack_server: Server) -> None:
    server = msgpack_server
    cid = await server.create_class()
    host = await server.join(cid, "teach", "host")
    mod = await server.join(cid, "mod", "moderator")
    host.wait_s = mod.wait_s = CROWD_WAIT_S
    users = [f"voter-{i:03d}" for i in range(300)]
    peers = await connect_all(server, cid, users)
    poll_id = await new_poll(host, anonymous=True)
    assert (await host.call("poll:show_results", {"poll_id": poll_id}))["ok"]
    for peer in peers:
        await peer.wait_for("poll:results_shown")

    ballots = {u: i % 4 for i, u in enumerate(users)}
    started = time.monotonic()
    acks = await asyncio.gather(
        *(
            p.call("poll:vote", {"poll_id": poll_id, "answer": [ballots[u]]})
            for u, p in zip(users, peers, strict=True)
        )
    )
    assert all(a == {"ok": True} for a in acks)
    # Fifty change their minds, and ten press the button twice: ballots replace.
    changed = {u: (ballots[u] + 1) % 4 for u in users[:50]}
    again = [*zip(users[:50], peers[:50], strict=True), *zip(users[:10], peers[:10], strict=True)]
    acks = await asyncio.gather(
        *(p.call("poll:vote", {"poll_id": poll_id, "answer": [changed[u]]}) for u, p in again)
    )
    assert all(a["ok"] for a in acks)
    ballots |= changed
    counts = [Counter(ballots.values())[i] for i in range(4)]
    final = {"counts": counts, "total": 300, "voters": 300}

    for peer in [host, mod, *peers]:
        await peer.wait_for("poll:results", lambda d: d | final == d and d["poll_id"] == poll_id)
    # 360 ballots, yet each client hears a few tallies per second, never one per ballot.
    elapsed = time.monotonic() - started
    bound = elapsed / INTERVAL_S + 2
    for peer in [host, mod, *peers]:
        received = tally(peer, poll_id)
        assert 1 <= len(received) <= bound, (len(received), elapsed)
        assert received[-1] | final == received[-1]  # nothing after the final tally
        assert [r["as_of"] for r in received] == sorted(r["as_of"] for r in received)

    voters = set(users)
    for peer in [host, mod, *peers]:
        assert leaks(peer, voters) == []
    # The journal still counts each person once: a second socket of a voter changes nothing.
    twin = server.peer(server.token(cid, users[0]))
    await twin.connect()
    assert (await twin.call("poll:vote", {"poll_id": poll_id, "answer": [changed[users[0]]]}))["ok"]
    assert (await host.call("poll:close", {"poll_id": poll_id}))["ok"]
    closed = await twin.wait_for("poll:closed")
    assert closed["results"] == closed["results"] | final
    await asyncio.gather(*(p.close() for p in [*peers, twin]))


async def test_duration_closes_the_poll(msgpack_server: Server) -> None:
    cid = await msgpack_server.create_class()
    host = await msgpack_server.join(cid, "teach", "host")
    ann = await msgpack_server.join(cid, "ann")
    poll_id = await new_poll(host, kind="truefalse", duration_s=1)
    opened = await ann.wait_for("poll:opened")
    assert opened["poll"]["ends_at"] - opened["ts"] == 1000
    assert (await ann.call("poll:vote", {"poll_id": poll_id, "answer": [0]}))["ok"]
    closed = await ann.wait_for("poll:closed")
    assert closed["reason"] == "timer" and closed["results"] is None
    assert closed["ts"] >= opened["poll"]["ends_at"]
    final = await host.wait_for("poll:results", lambda d: d["voters"] == 1)
    assert final["counts"] == [1, 0]


async def test_export_in_the_ack_and_over_http(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teach", "host")
    ann, ben = await server.join(cid, "ann"), await server.join(cid, "ben", name="=Ben")
    named = await new_poll(host)
    secret = await new_poll(host, anonymous=True, kind="text")
    for peer, answer in [(ann, [0]), (ben, [3])]:
        assert (await peer.call("poll:vote", {"poll_id": named, "answer": answer}))["ok"]
    for peer, answer in [(ann, "zebra crossing"), (ben, "apple pie")]:
        assert (await peer.call("poll:vote", {"poll_id": secret, "answer": answer}))["ok"]

    ack = await host.call("poll:export", {"poll_id": named})
    rows = list(csv.DictReader(io.StringIO(ack["csv"])))
    assert [(r["user_id"], r["name"], r["answer"]) for r in rows] == [
        ("ann", "Ann", "North"),
        ("ben", "'=Ben", "West"),
    ]
    ack = await host.call("poll:export", {"poll_id": secret})
    assert "ann" not in ack["csv"] and "ben" not in ack["csv"].lower().replace("anonymous", "")
    assert [r["answer"] for r in csv.DictReader(io.StringIO(ack["csv"]))] == [
        "apple pie",
        "zebra crossing",
    ]
    assert (await ann.call("poll:export", {"poll_id": named}))["error"]["code"] == "forbidden"
    assert (await host.call("poll:export", {"poll_id": "nope"}))["error"]["code"] == "not_found"

    path = f"/api/classes/{cid}/polls.csv"
    async with aiohttp.ClientSession() as http:

        async def get(url: str, bearer: str | None) -> tuple[int, str, str]:
            headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
            async with http.get(server.url + url, headers=headers) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), await resp.text()

        status, kind, body = await get(path, ADMIN)
        assert status == 200 and kind.startswith("text/csv")
        assert len(list(csv.DictReader(io.StringIO(body)))) == 4
        status, _, body = await get(f"{path}?poll_id={secret}", server.token(cid, "teach", "host"))
        assert status == 200 and "ann" not in body and "zebra crossing" in body
        assert (await get(path, server.token(cid, "ann")))[0] == 403
        assert (await get(path, None))[0] == 401
        assert (await get(path, "not-a-token"))[0] == 401
        assert (await get(path, server.token("other", "teach", "host")))[0] == 401
        assert (await get(f"{path}?poll_id=nope", ADMIN))[0] == 404
        assert (await get("/api/classes/nope/polls.csv", ADMIN))[0] == 404


async def test_a_breakout_poll_reaches_its_room_only(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teach", "host")
    ann, ben = await server.join(cid, "ann"), await server.join(cid, "ben")
    ack = await host.call(
        "breakout:open",
        {"count": 2, "assignment": "manual", "assignments": {"ann": 0, "ben": 1}},
    )
    assert ack["ok"], ack
    room = ack["breakouts"]["rooms"][0]["id"]
    await ann.wait_for("breakout:assigned")
    await ben.wait_for("breakout:assigned")
    assert (await host.call("breakout:visit", {"room_id": room}))["ok"]
    poll_id = await new_poll(host)
    opened = await ann.wait_for("poll:opened")
    assert opened["poll"]["room"] == room
    assert (await ann.call("poll:vote", {"poll_id": poll_id, "answer": [1]}))["ok"]
    ack = await ben.call("poll:vote", {"poll_id": poll_id, "answer": [1]})
    assert ack["error"]["code"] == "not_found"
    assert (await host.call("poll:close", {"poll_id": poll_id}))["ok"]
    await ann.wait_for("poll:closed")
    assert not ben.received("poll:opened") and not ben.received("poll:closed")


async def test_acknowledged_votes_survive_a_crash_and_timers_resume(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path)
    await proc.start()
    peers: list[Peer] = []

    async def join(cid: str, user: str, role: str = "participant") -> Peer:
        peer = Peer(proc.url, mint(SECRET, cid, user, user.title(), role))  # type: ignore[arg-type]
        peers.append(peer)
        await peer.connect()
        return peer

    try:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {ADMIN}"}
            async with http.post(
                proc.url + "/api/classes", json={"title": "Crash"}, headers=headers
            ) as resp:
                cid = (await resp.json())["id"]
        host = await join(cid, "teach", "host")
        voters = [await join(cid, f"p{i}") for i in range(6)]
        kept = await new_poll(host, anonymous=True)
        timed = await new_poll(host, kind="rating", duration_s=2)
        for i, peer in enumerate(voters):
            assert (await peer.call("poll:vote", {"poll_id": kept, "answer": [i % 2]}))["ok"]
            assert (await peer.call("poll:vote", {"poll_id": timed, "answer": 5}))["ok"]
        assert (await voters[0].call("poll:vote", {"poll_id": kept, "answer": [3]}))["ok"]
        await proc.stop(signal.SIGKILL)  # every acknowledged ballot is in the journal
        for peer in peers:
            await peer.close()

        await proc.start()
        again = await join(cid, "teach", "host")
        polls = {p["id"]: p for p in again.received("class:state")[0]["polls"]}
        assert polls[kept]["status"] == "open"
        assert polls[kept]["results"]["counts"] == [2, 3, 0, 1]
        assert polls[timed]["results"]["voters"] == 6
        if polls[timed]["status"] == "open":  # the timer is re-armed from the journal
            await again.wait_for("poll:closed", lambda d: d["poll_id"] == timed)
        p1 = await join(cid, "p1")
        assert (await p1.call("poll:vote", {"poll_id": kept, "answer": [1]}))["ok"]
        assert (await p1.call("poll:vote", {"poll_id": kept, "answer": [0]}))["ok"]
        await again.wait_for("poll:results", lambda d: d["counts"] == [3, 2, 0, 1])
    finally:
        for peer in peers:
            await peer.close()
        await proc.stop()
