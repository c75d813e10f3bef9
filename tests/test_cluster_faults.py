"""Cluster faults with real processes: Redis killed mid-storm, a node paused past its lease."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from classroom import events as e
from classroom.aggregate import Classroom
from journal.streams import RedisJournal
from tests.cluster import create_class, node
from tests.peer import Peer, Refused
from tests.process import ServerProcess
from tests.redis_server import RedisServer
from tests.test_cluster import join_when_hosted, token

VOTERS = 24


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


async def vote(peer: Peer, poll_id: str, answer: int) -> dict[str, Any]:
    try:
        reply: dict[str, Any] = await peer.call(
            "poll:vote", {"poll_id": poll_id, "answer": [answer]}
        )
    except Exception as exc:  # the socket closed under the call, or nobody answered
        return {"ok": False, "error": {"code": type(exc).__name__}}
    return reply


async def open_poll(host: Peer, options: int) -> str:
    spec = {"question": "Pick", "kind": "single", "options": [f"o{i}" for i in range(options)]}
    ack = await host.call("poll:create", spec)
    assert (await host.call("poll:open", {"poll_id": ack["poll_id"]}))["ok"]
    return str(ack["poll_id"])


async def join_anywhere(url: str, tok: str) -> Peer:
    """Connect where the class is hosted now, following `moved`, retrying while it moves."""
    async with asyncio.timeout(40):
        while True:
            peer = Peer(url, tok)
            try:
                await peer.connect()
                return peer
            except Refused as refused:
                assert refused.code in ("moved", "unavailable"), refused.data
                if refused.code == "moved":
                    url = refused.data["url"]
            await asyncio.sleep(0.1)


async def stream_history(redis_url: str, cid: str) -> list[e.Event]:
    journal = RedisJournal.from_url(redis_url)
    try:
        return [e.decode(data) async for _, data in journal.read(cid)]
    finally:
        await journal.close()


def results(state: dict[str, Any], poll_id: str) -> dict[str, Any]:
    (poll,) = [p for p in state["polls"] if p["id"] == poll_id]
    return dict(poll["results"])


async def test_redis_killed_mid_storm_loses_no_acked_ballot(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    nodes = [node(tmp_path / n, redis_server.url, lease_ttl_ms=3000) for n in ("a", "b")]
    await asyncio.gather(*(n.start() for n in nodes))
    try:
        a = nodes[0]
        cid = await create_class(a.url)
        host = await join_when_hosted(a.url, token(cid, "teacher", "host"))
        voters = [await join_when_hosted(a.url, token(cid, f"v{i}")) for i in range(VOTERS)]
        poll_id = await open_poll(host, 2)
        acked: set[int] = set()
        a_third_acked = asyncio.Event()
        todo: asyncio.Queue[int] = asyncio.Queue()
        for i in range(VOTERS):
            todo.put_nowait(i)

        async def worker() -> None:
            while not todo.empty():
                i = todo.get_nowait()
                if (await vote(voters[i], poll_id, i % 2))["ok"]:
                    acked.add(i)
                    if len(acked) >= VOTERS // 3:
                        a_third_acked.set()

        async def crash() -> None:
            await a_third_acked.wait()
            redis_server.kill()  # SIGKILL mid-storm: only the fsynced AOF survives

        await asyncio.gather(*(worker() for _ in range(4)), crash())
        assert VOTERS // 3 <= len(acked) < VOTERS
        redis_server.start()  # same port and directory: it replays its AOF
        for i in range(VOTERS):
            if i not in acked:  # what was not acknowledged, a client sends again
                again = await join_anywhere(a.url, token(cid, f"v{i}"))
                assert (await vote(again, poll_id, i % 2))["ok"]
                await again.close()
        check = await join_anywhere(a.url, token(cid, "teacher", "host"))
        tally = results(check.received("class:state")[0], poll_id)
        assert tally["voters"] == VOTERS and tally["counts"] == [VOTERS // 2] * 2
        await check.close()
    finally:
        await asyncio.gather(*(n.stop(signal.SIGKILL) for n in nodes))
    history = await stream_history(redis_server.url, cid)
    assert [ev.seq for ev in history] == list(range(1, len(history) + 1))
    ballots = Classroom.replay(history).polls.polls[poll_id].ballots
    assert {uid: list(b.answer) for uid, b in ballots.items()} == {
        f"v{i}": [i % 2] for i in range(VOTERS)
    }


async def pause(server: ServerProcess) -> None:
    assert server.proc is not None
    server.proc.send_signal(signal.SIGSTOP)


async def resume(server: ServerProcess) -> None:
    assert server.proc is not None
    server.proc.send_signal(signal.SIGCONT)


async def test_a_node_paused_past_its_lease_cannot_write(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    ttl_ms = 2000
    a, b, c = (node(tmp_path / n, redis_server.url, lease_ttl_ms=ttl_ms) for n in "abc")
    await asyncio.gather(a.start(), b.start())
    try:
        cid = await create_class(a.url)
        host = await join_when_hosted(a.url, token(cid, "teacher", "host"))
        on_a = [await join_when_hosted(a.url, token(cid, f"v{i}")) for i in range(10)]
        poll_id = await open_poll(host, 3)
        for peer in on_a:
            assert (await vote(peer, poll_id, 0))["ok"]
        await pause(a)
        try:
            # B takes the class once A's lease has run out, and takes commands.
            on_b = [await join_when_hosted(b.url, token(cid, f"v{i}")) for i in range(20)]
            for i, peer in enumerate(on_b):
                if i < 5 or i >= 10:
                    assert (await vote(peer, poll_id, 1))["ok"]
        finally:
            await resume(a)
        # A wakes up with sockets still open: whatever they send is refused.
        stale = await asyncio.gather(*(vote(peer, poll_id, 2) for peer in on_a))
        assert not any(ack["ok"] for ack in stale), stale
        await b.stop(signal.SIGKILL)
        await c.start()
        rebuilt = await join_when_hosted(c.url, token(cid, "teacher", "host"))
        tally = results(rebuilt.received("class:state")[0], poll_id)
        assert tally["counts"] == [5, 15, 0] and tally["voters"] == 20
        await rebuilt.close()
    finally:
        await asyncio.gather(*(n.stop(signal.SIGKILL) for n in (a, b, c)))
    history = await stream_history(redis_server.url, cid)
    assert [ev.seq for ev in history] == list(range(1, len(history) + 1))
    Classroom.replay(history)  # one history: it folds without a hole or a conflict
