"""A recording's report (and digest) is kept folded in memory: it follows the stream as it
commits, reads the journal only to build itself, and a restart rebuilds the same report from
the journal.

The journal is the real one, wrapped to count its reads (tests/faults.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from classroom import replay_events as r
from classroom.replay import encode_polls
from journal import Journal
from signaling.auth import mint_replay
from signaling.journalled import now_ms
from tests.conftest import SECRET, Server, running, settings_for
from tests.faults import FaultyJournal
from tests.peer import Peer
from tests.replay_domain import QUIZ
from tests.replay_package import published_for_replay
from tests.test_recording_privacy import AsAdmin, fetch
from web.keys import REPLAYS

RID = "r-kept"
REPORT = f"/api/recordings/{RID}/report"
DIGEST = f"/api/recordings/{RID}/digest"


class Journals:
    """The server's journals (the classes', the replays'), each counting its reads."""

    def __init__(self) -> None:
        self.wrapped: list[FaultyJournal] = []

    def layer(self, journal: Journal) -> Journal:
        counting = FaultyJournal(journal)
        self.wrapped.append(counting)
        return counting

    def reads(self, stream: str) -> list[int]:
        """Where each read of `stream` started (its `after_seq`)."""
        return [after for journal in self.wrapped for after in journal.reads.get(stream, [])]


async def watch(server: Server, user: str) -> Peer:
    peer = server.peer(mint_replay(SECRET, RID, user, user.title()))
    await peer.connect(expect="replay:state")
    return peer


async def report(server: Server) -> Any:
    status, body = await fetch(server, "GET", REPORT, AsAdmin)
    assert status == 200, body
    return body


async def test_the_report_follows_the_stream_and_a_restart_rebuilds_it(tmp_path: Path) -> None:
    published_for_replay(tmp_path, RID, encode_polls([QUIZ]))
    journals = Journals()
    async with running(settings_for(tmp_path), journals.layer) as server:
        ann = await watch(server, "ann")  # loads the stream: its report is folded once
        first = await report(server)
        assert [v["user_id"] for v in first["viewers"]] == ["ann"]
        reads = journals.reads(RID)
        assert reads == [0]  # once, when the stream loaded

        ben = await watch(server, "ben")
        assert (await ann.call("replay:vote", {"poll_id": "quiz", "answer": [0]}))["ok"]
        watched = {"position_ms": 90_000, "watched": [[0, 90_000]]}
        assert (await ben.call("replay:progress", watched))["ok"]
        again = {"position_ms": 60_000, "watched": [[30_000, 60_000]]}
        assert (await ben.call("replay:progress", again))["ok"]
        after = await report(server)

        assert journals.reads(RID) == reads  # the events came from the stream, not the journal
        status, made = await fetch(server, "GET", f"{DIGEST}?since=0&format=json", AsAdmin)
        assert status == 200, made
        assert (made["viewers"], made["ballots"]) == (2, 1)
        assert journals.reads(RID) == reads  # so does the digest
        rows = {v["user_id"]: v for v in after["viewers"]}
        assert sorted(rows) == ["ann", "ben"]
        assert (rows["ann"]["polls_answered"], rows["ann"]["quiz_correct"]) == (1, 1)
        assert (rows["ben"]["watched_ms"], rows["ben"]["position_ms"]) == (90_000, 60_000)
        (quiz,) = after["polls"]
        assert (quiz["async_voters"], quiz["async_correct"]) == (1, 1)
        again_ms = sum(b["again_ms"] for b in after["coverage"]["buckets"])
        assert again_ms == 30_000  # ben went back over 0:30 to 1:00

    # Restarted: the stream is rebuilt from its journal, and the report with it.
    async with running(settings_for(tmp_path), journals.layer) as server:
        assert RID in server.app[REPLAYS].runtimes
        assert await report(server) == after


async def test_a_stream_not_loaded_here_is_read_from_where_its_fold_stands(
    tmp_path: Path,
) -> None:
    published_for_replay(tmp_path, RID, encode_polls([QUIZ]))
    journals = Journals()
    async with running(settings_for(tmp_path, class_idle_s=0.2), journals.layer) as server:
        ann = await watch(server, "ann")
        first = await report(server)
        host = server.app[REPLAYS]
        stream = host.runtimes[RID]
        await ann.close()
        async with asyncio.timeout(10):
            await stream.closed.wait()  # nobody watches: the stream unloads
        reads = journals.reads(RID)

        # No stream follows it here, and the journal has nothing new: nothing is read.
        assert await report(server) == first
        assert journals.reads(RID) == reads

        # Committed elsewhere (the stream hosted by another node): only what is new is read.
        seq = stream.stream.seq
        guest = r.GuestWatched(seq=seq + 1, ts=now_ms())
        await host.journal.append(RID, [(guest.seq, r.encode(guest))])
        assert (await report(server))["anonymous_views"] == first["anonymous_views"] + 1
        assert journals.reads(RID) == [*reads, seq]
