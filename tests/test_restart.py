"""A restarted `classroom serve` rebuilds every class from its journal."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

import aiohttp
import pytest

from signaling.auth import mint
from tests.conftest import ADMIN, SECRET
from tests.peer import Peer
from tests.process import ServerProcess
from tests.redis_server import RedisServer


async def create_class(url: str, title: str) -> str:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/api/classes", json={"title": title}, headers=headers) as resp,
    ):
        assert resp.status == 201
        return str((await resp.json())["id"])


@pytest.mark.parametrize(
    ("journal", "how"),
    [("file", signal.SIGTERM), ("file", signal.SIGKILL), ("redis", signal.SIGKILL)],
)
async def test_restart_rebuilds_the_class(
    tmp_path: Path, journal: str, how: signal.Signals
) -> None:
    with RedisServer() if journal == "redis" else contextlib.nullcontext() as redis:
        extra = ["--redis-url", redis.url] if redis is not None else []
        await restart_scenario(ServerProcess(tmp_path, *extra), how)


async def restart_scenario(server: ServerProcess, how: signal.Signals) -> None:
    await server.start()
    try:
        cid = await create_class(server.url, "Geometry")
        alice = Peer(server.url, mint(SECRET, cid, "alice", "Alice", "host"))
        bob = Peer(server.url, mint(SECRET, cid, "bob", "Bob", "participant"))
        await alice.connect()
        await bob.connect()
        for text in ("one", "two", "three"):
            assert (await alice.call("chat:send", {"text": text}))["ok"]
        assert (await bob.call("hand:raise"))["ok"]
        assert (await alice.call("participant:set_role", {"user_id": "bob", "role": "moderator"}))[
            "ok"
        ]
        seq_before = alice.last_seq
        await server.stop(how)
        await alice.close()
        await bob.close()

        await server.start()
        back = Peer(server.url, mint(SECRET, cid, "bob", "Bob", "participant"))
        snap = await back.connect()
        assert snap["class"]["title"] == "Geometry"
        assert [m["text"] for m in snap["chat"]] == ["one", "two", "three"]
        assert snap["seq"] > seq_before
        # The promotion outlives the restart; presence does not (nobody was connected).
        assert snap["you"]["role"] == "moderator"
        assert [p["user_id"] for p in snap["participants"]] == ["bob"]
        assert snap["hands"] == []
        assert (await back.call("chat:send", {"text": "four"}))["ok"]
        await back.close()
    finally:
        await server.stop(signal.SIGKILL)
