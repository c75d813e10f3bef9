"""A recording's stream in a cluster: hosted by one node under a lease, like a class, and
rebuilt elsewhere from its Redis journal when that node is killed."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from classroom.replay import encode_polls
from signaling.auth import mint_replay
from tests.cluster import node
from tests.conftest import SECRET
from tests.peer import Peer, Refused
from tests.process import ServerProcess
from tests.redis_server import RedisServer
from tests.replay_domain import QUIZ
from tests.replay_package import published_for_replay

RID = "r-cluster"


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[list[ServerProcess]]:
    published_for_replay(tmp_path, RID, encode_polls([QUIZ]))
    with RedisServer() as redis_server:
        started = [node(tmp_path, redis_server.url) for _ in range(2)]
        await asyncio.gather(*(n.start() for n in started))
        yield started
        await asyncio.gather(*(n.stop(signal.SIGKILL) for n in started))


def watcher(url: str, user: str) -> Peer:
    return Peer(url, mint_replay(SECRET, RID, user, user.title()))


async def watch_when_hosted(url: str, user: str) -> Peer:
    """Connect, following no redirects: retry while the stream's old lease runs out."""
    async with asyncio.timeout(30):
        while True:
            peer = watcher(url, user)
            try:
                await peer.connect(expect="replay:state")
                return peer
            except Refused as refused:
                assert refused.code == "moved", refused.data
            await asyncio.sleep(0.1)


async def test_a_stream_lives_on_one_node_and_survives_kill_9(
    nodes: list[ServerProcess],
) -> None:
    a, b = nodes
    ann = watcher(a.url, "ann")
    await ann.connect(expect="replay:state")
    with pytest.raises(Refused) as refused:
        await watcher(b.url, "ben").connect(expect="replay:state")
    assert refused.value.code == "moved" and refused.value.data["url"] == a.url

    qid = (await ann.call("replay:ask", {"text": "Why?", "at_ms": 5000}))["question_id"]
    ack = await ann.call("replay:vote", {"poll_id": QUIZ.poll_id, "answer": [0]})
    assert ack["ok"] and ack["results"]["async"]["voters"] == 1
    await a.kill()
    back = await watch_when_hosted(b.url, "ann")
    state = back.received("replay:state")[0]
    assert [q["id"] for q in state["questions"]] == [qid]
    (quiz,) = state["polls"]
    assert quiz["your_answer"] == [0] and quiz["results"]["async"]["voters"] == 1
    await back.close()
