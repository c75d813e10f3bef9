"""Faults on a real server: a journal write that fails mid-storm, a listener that raises."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from classroom import events as e
from classroom.aggregate import Classroom
from journal import Journal
from journal.files import FileJournal
from signaling.runtime import ClassRuntime
from tests.conftest import Server, running, settings_for
from tests.faults import FaultyJournal
from tests.peer import Peer
from web.keys import REGISTRY

VOTERS = 40


async def vote(peer: Peer, poll_id: str, answer: int) -> dict[str, Any]:
    try:
        reply: dict[str, Any] = await peer.call(
            "poll:vote", {"poll_id": poll_id, "answer": [answer]}
        )
    except Exception as exc:  # the socket was closed under the call
        return {"ok": False, "error": {"code": type(exc).__name__}}
    return reply


async def open_poll(host: Peer) -> str:
    ack = await host.call(
        "poll:create", {"question": "Pick", "kind": "single", "options": ["a", "b"]}
    )
    assert (await host.call("poll:open", {"poll_id": ack["poll_id"]}))["ok"]
    return str(ack["poll_id"])


async def read_journal(path: Path, class_id: str) -> list[e.Event]:
    journal = FileJournal(path)
    try:
        return [e.decode(data) async for _, data in journal.read(class_id)]
    finally:
        await journal.close()


@pytest.mark.parametrize("stored", [False, True], ids=["write-lost", "answer-lost"])
async def test_a_write_that_fails_mid_storm_loses_no_acked_ballot(
    tmp_path: Path, stored: bool
) -> None:
    layers: list[FaultyJournal] = []

    def faulty(journal: Journal) -> Journal:
        layers.append(FaultyJournal(journal))
        return layers[-1]

    settings = settings_for(tmp_path)
    async with running(settings, faulty) as server:
        cid = await server.create_class()
        host = await server.join(cid, "teacher", "host")
        voters = [await server.join(cid, f"voter{i}") for i in range(VOTERS)]
        poll_id = await open_poll(host)
        layers[0].arm(record=VOTERS // 3, stored=stored)
        acks = await asyncio.gather(*(vote(v, poll_id, i % 2) for i, v in enumerate(voters)))
        assert layers[0].failures == 1
        acked = {i for i, ack in enumerate(acks) if ack["ok"]}
        refused = [ack["error"]["code"] for ack in acks if not ack["ok"]]
        assert refused and set(refused) <= {"unavailable", "BadNamespaceError", "TimeoutError"}
        assert "unavailable" in refused
        # The class stopped: every socket was closed, and it is rebuilt on the next connect.
        for peer in [host, *voters]:
            await asyncio.wait_for(peer.disconnected.wait(), 10)
        # Each client catches up from what it last saw: it never saw an event that was not
        # durable, so the rebuilt class can replay from there.
        for i, old in enumerate(voters):
            again = server.peer(server.token(cid, f"voter{i}"))
            await again.connect(last_seq=old.last_seq)
            if i not in acked:  # a client retries what was not acknowledged
                assert (await vote(again, poll_id, i % 2))["ok"]
            await again.close()
        host = server.peer(server.token(cid, "teacher", "host"))
        state = await host.connect()
        (poll,) = state["polls"]
        assert poll["results"]["voters"] == VOTERS
        assert poll["results"]["counts"] == [VOTERS // 2, VOTERS // 2]
    history = await read_journal(tmp_path / "journal", cid)
    assert [ev.seq for ev in history] == list(range(1, len(history) + 1))  # no hole
    rebuilt = Classroom.replay(history)
    assert rebuilt.polls.polls[poll_id].results().voters == VOTERS
    for i in acked:
        ballot = rebuilt.polls.polls[poll_id].ballots[f"voter{i}"]
        assert list(ballot.answer) == [i % 2]


async def test_a_listener_that_always_fails_harms_no_command(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path)) as server:
        seen: list[int] = []

        async def broken(ev: e.Event) -> None:
            seen.append(ev.seq)
            raise RuntimeError("this listener is broken")

        def attach(runtime: ClassRuntime) -> None:
            runtime.listen(broken)

        # First, so the class's own listeners are heard after it fails.
        server.app[REGISTRY].on_runtime.insert(0, attach)
        cid = await server.create_class()
        host = await server.join(cid, "teacher", "host")
        ann = await server.join(cid, "ann")
        assert (await ann.call("chat:send", {"text": "still heard"}))["ok"]
        await host.wait_for("chat:message", lambda m: m["text"] == "still heard")
        poll_id = await open_poll(host)
        assert (await vote(ann, poll_id, 1))["ok"]
        # The coalescer, a listener after the broken one, still sends the tallies.
        await host.wait_for("poll:results", lambda r: r["poll_id"] == poll_id and r["total"] == 1)
        assert seen  # it really ran, and failed, on the class's events
        failures = await metric(server, "classroom_listener_failures_total")
        assert failures >= len(seen) > 0


async def metric(server: Server, name: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(server.url + "/metrics") as resp:
        text = await resp.text()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + "{"))
