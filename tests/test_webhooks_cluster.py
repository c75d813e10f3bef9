"""Webhooks in a cluster: every node enqueues into one outbox in Redis, one node delivers
(the delivery lease), and when it dies another takes over where the records stand."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from signaling.auth import mint
from tests.cluster import create_class, node
from tests.conftest import ADMIN
from tests.conftest import SECRET as TOKEN_SECRET
from tests.peer import Peer
from tests.process import ServerProcess
from tests.redis_server import RedisServer
from tests.webhook_receiver import SECRET, Receiver

FLAGS = ("--webhook-secret", SECRET, "--webhook-retry-delays=0.2,0.5,0.5,0.5,0.5,0.5,0.5,0.5")


async def end_class(server: ServerProcess, title: str) -> str:
    cid = await create_class(server.url, title)
    host = Peer(server.url, mint(TOKEN_SECRET, cid, "t", "T", "host"))
    await host.connect()
    assert (await host.call("class:end"))["ok"]
    await host.close()
    return cid


async def tried(server: ServerProcess, class_id: str) -> None:
    """Wait until the class's `class.ended` was tried (and failed) at least once."""
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for _ in range(300):
            async with http.get(server.url + "/api/webhooks/deliveries") as resp:
                log = await resp.json()
            for msg in log["messages"]:
                data_of = msg["id"].startswith(f"msg_{class_id}_")
                if data_of and msg["type"] == "class.ended" and msg["deliveries"][0]["tries"]:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError(f"class.ended of {class_id} never tried")


@pytest.mark.timeout(180)
def ended_classes(receiver: Receiver) -> set[str]:
    """The classes whose `class.ended` the receiver accepted."""
    return {
        d.body["data"]["class_id"]
        for d in receiver.tries
        if d.answered == 200 and d.body["type"] == "class.ended"
    }


async def test_one_node_delivers_and_another_takes_over(tmp_path: Path) -> None:
    receiver = Receiver(fail_first=1)
    await receiver.start()
    with RedisServer() as redis:
        nodes = [node(tmp_path / name, redis.url) for name in ("a", "b")]
        for server in nodes:
            server.extra += ["--webhook", receiver.url, *FLAGS]
            await server.start()
        try:
            first = await end_class(nodes[0], "On A")
            second = await end_class(nodes[1], "On B")
            await receiver.wait_types("class.started", "class.ended")
            await receiver.stop()
            third = await end_class(nodes[0], "While the receiver is down")
            await tried(nodes[1], third)  # in the outbox, seen from the other node
            # Whichever node delivered dies; the survivor takes over the lease and the retries.
            await nodes[0].stop(signal.SIGKILL)
            await receiver.start()
            await receiver.wait_until(lambda: ended_classes(receiver) == {first, second, third})
        finally:
            for server in nodes:
                await server.stop()
            await receiver.stop()
    accepted = receiver.accepted()
    assert all(n == 1 for n in accepted.values()), accepted
    assert ended_classes(receiver) == {first, second, third}
