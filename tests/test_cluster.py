"""Cluster mode with real processes: two or three nodes, one redis-server, nginx."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from signaling.auth import mint
from tests.cluster import Nginx, create_class, get_json, node, wait_until
from tests.conftest import SECRET
from tests.peer import Peer, Refused
from tests.process import ServerProcess
from tests.redis_server import RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
async def nodes(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[list[ServerProcess]]:
    started = [node(tmp_path, redis_server.url) for _ in range(2)]
    await asyncio.gather(*(n.start() for n in started))
    yield started
    await asyncio.gather(*(n.stop(signal.SIGKILL) for n in started))


def token(cid: str, user: str, role: str = "participant") -> str:
    return mint(SECRET, cid, user, user.title(), role)  # type: ignore[arg-type]


async def join_when_hosted(url: str, tok: str, last_seq: int | None = None) -> Peer:
    """Connect, following no redirects: retry while the class's old lease runs out."""
    async with asyncio.timeout(30):
        while True:
            peer = Peer(url, tok)
            try:
                await peer.connect(last_seq=last_seq)
                return peer
            except Refused as refused:
                assert refused.code == "moved", refused.data
            await asyncio.sleep(0.1)


async def test_a_class_lives_on_one_node(nodes: list[ServerProcess]) -> None:
    a, b = nodes
    cid = await create_class(b.url)  # any node can create; the first asked hosts it
    host = Peer(a.url, token(cid, "teacher", "host"))
    await host.connect()
    stray = Peer(b.url, token(cid, "bob"))
    with pytest.raises(Refused) as refused:
        await stray.connect()
    assert refused.value.code == "moved" and refused.value.data["url"] == a.url
    for n in nodes:
        status, about = await get_json(f"{n.url}/api/classes/{cid}")
        assert status == 200 and about["node"] == a.url and about["title"] == "Cluster class"
    await host.close()


async def test_failover_keeps_every_acknowledged_message(nodes: list[ServerProcess]) -> None:
    a, b = nodes
    cid = await create_class(a.url)
    host = Peer(a.url, token(cid, "teacher", "host"))
    learners = [Peer(a.url, token(cid, f"learner{i}")) for i in range(5)]
    await host.connect()
    for peer in learners:
        await peer.connect()
    acked = []
    for i, peer in enumerate(learners * 4):
        ack = await peer.call("chat:send", {"text": f"note {i}"})
        assert ack["ok"]
        acked.append(f"note {i}")
    assert (await learners[0].call("hand:raise"))["ok"]
    last = learners[1].last_seq
    await a.kill()
    # The learner comes back through node B once A's lease has run out.
    back = await join_when_hosted(b.url, token(cid, "learner1"), last_seq=last)
    texts = [d["text"] for n, d in back.events if n == "chat:message"]
    assert texts == []  # nothing was said after `last` ...
    assert back.received("class:resumed")  # ... and the catch-up came from B's rebuilt tail
    fresh = await join_when_hosted(b.url, token(cid, "latecomer"))
    snapshot = fresh.received("class:state")[0]
    assert [m["text"] for m in snapshot["chat"]] == acked
    _, about = await get_json(f"{b.url}/api/classes/{cid}")
    assert about["node"] == b.url
    assert (await back.call("chat:send", {"text": "after failover"}))["ok"]
    await fresh.wait_for("chat:message", lambda m: m["text"] == "after failover")
    await back.close()
    await fresh.close()


async def test_a_poll_survives_kill_9_of_its_node(nodes: list[ServerProcess]) -> None:
    a, b = nodes
    cid = await create_class(a.url)
    host = Peer(a.url, token(cid, "teacher", "host"))
    await host.connect()
    voters = [Peer(a.url, token(cid, f"voter{i}")) for i in range(12)]
    for voter in voters:
        await voter.connect()
    poll = await host.call(
        "poll:create", {"question": "Pick", "kind": "single", "options": ["x", "y"]}
    )
    assert (await host.call("poll:open", {"poll_id": poll["poll_id"]}))["ok"]
    acks = await asyncio.gather(
        *(
            v.call("poll:vote", {"poll_id": poll["poll_id"], "answer": [i % 2]})
            for i, v in enumerate(voters)
        )
    )
    assert all(ack["ok"] for ack in acks)
    # One voter changes their mind: a replaced ballot, not a second one.
    assert (await voters[0].call("poll:vote", {"poll_id": poll["poll_id"], "answer": [1]}))["ok"]
    await a.kill()
    back = await join_when_hosted(b.url, token(cid, "teacher", "host"))
    (seen,) = [p for p in back.received("class:state")[0]["polls"] if p["id"] == poll["poll_id"]]
    assert seen["status"] == "open"
    assert seen["results"]["counts"] == [5, 7] and seen["results"]["total"] == 12
    late = Peer(b.url, token(cid, "voter12"))
    await late.connect()
    assert (await late.call("poll:vote", {"poll_id": poll["poll_id"], "answer": [0]}))["ok"]
    assert (await back.call("poll:close", {"poll_id": poll["poll_id"]}))["ok"]
    await back.wait_for("poll:closed")
    final = await back.wait_for("poll:results", lambda r: r["total"] == 13)
    assert final["counts"] == [6, 7]
    await back.close()
    await late.close()


async def test_redis_restart_loses_nothing_acknowledged(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    a = node(tmp_path, redis_server.url, lease_ttl_ms=8000)
    await a.start()
    try:
        cid = await create_class(a.url)
        host = Peer(a.url, token(cid, "teacher", "host"))
        await host.connect()
        acked = []
        for i in range(5):
            assert (await host.call("chat:send", {"text": f"before {i}"}))["ok"]
            acked.append(f"before {i}")
        redis_server.stop()
        await wait_until(a.url + "/healthz", 503)  # degraded while Redis is away
        redis_server.start()
        await wait_until(a.url + "/healthz", 200)
        for i in range(5):
            ack = await host.call("chat:send", {"text": f"after {i}"})
            if ack["ok"]:
                acked.append(f"after {i}")
        assert acked[-1] == "after 4"
        check = await join_when_hosted(a.url, token(cid, "checker"))
        said = [m["text"] for m in check.received("class:state")[0]["chat"]]
        assert said == acked
        await check.close()
        await host.close()
    finally:
        await a.stop(signal.SIGKILL)


async def test_nginx_recipe_routes_a_class_to_one_node(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    nodes = [node(tmp_path, redis_server.url) for _ in range(3)]
    await asyncio.gather(*(n.start() for n in nodes))
    proxy = Nginx(tmp_path, [f"127.0.0.1:{n.port}" for n in nodes])
    await proxy.start()
    peers: list[Peer] = []
    try:
        classes = [await create_class(proxy.url, f"class {i}") for i in range(6)]
        for cid in classes:
            for user in ("teacher", "ann", "ben"):
                peer = Peer(f"{proxy.url}?class={cid}", token(cid, user))
                await peer.connect()  # a member routed to a non-host node would get `moved`
                peers.append(peer)
            status, about = await get_json(f"{proxy.url}/api/classes/{cid}")
            assert status == 200 and about["node"] in [n.url for n in nodes]
            assert about["participants"] == 3
    finally:
        for peer in peers:
            await peer.close()
        await proxy.stop()
        await asyncio.gather(*(n.stop(signal.SIGKILL) for n in nodes))


async def test_a_node_that_cannot_renew_stops_serving(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    a = node(tmp_path, redis_server.url, lease_ttl_ms=1500)
    await a.start()
    try:
        cid = await create_class(a.url)
        host = Peer(a.url, token(cid, "teacher", "host"))
        await host.connect()
        assert (await host.call("chat:send", {"text": "kept"}))["ok"]
        redis_server.stop()
        # Past its lease the node must not go on serving the class alone.
        await asyncio.wait_for(host.disconnected.wait(), 20)
        redis_server.start()
        await wait_until(a.url + "/healthz", 200)
        again = await join_when_hosted(a.url, token(cid, "teacher", "host"))
        said = [m["text"] for m in again.received("class:state")[0]["chat"]]
        assert said == ["kept"]
        await again.close()
    finally:
        await a.stop(signal.SIGKILL)
