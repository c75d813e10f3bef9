"""What the server sends is bounded per socket, liveness is checked on a timer, and
WebSockets are not compressed unless the server is told to."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from signaling.ratelimit import DEFAULT_RATES, Rate, RateLimiter
from tests.conftest import Server, running, settings_for
from tests.peer import Peer
from tests.rawclient import RawClient
from web.keys import GATEWAY

CHATTERS = 4
MAX_MESSAGES = 4000
"""Enough chat (8 MB) to fill the kernel's buffers between the server and a client that
never reads, and then the server's bound on what waits for it."""
TEXT = "x" * 1900


@contextlib.asynccontextmanager
async def chatty(tmp_path: Path, **settings: Any) -> AsyncIterator[Server]:
    """A server whose chat rate limit lets a few people fill a buffer quickly."""
    async with running(settings_for(tmp_path, **settings)) as server:
        rates = DEFAULT_RATES | {"chat": Rate(10_000, 10_000)}
        server.app[GATEWAY].limiter = RateLimiter(rates)
        yield server


async def pong_forever(client: RawClient) -> None:
    """Answer pings it never reads: PONGs on a schedule of its own."""
    while not client.writer.is_closing():
        client.pong()
        await asyncio.sleep(0.05)


async def a_reader_that_stopped(server: Server, cid: str, user: str) -> RawClient:
    client = await RawClient.open(server.url, rcvbuf=4096)
    await client.join(server.token(cid, user))
    client.stop_reading()
    return client


async def chat_until_gone(server: Server, cid: str, watcher: Peer, user: str) -> int:
    """Chat to the class until `user` has left; how many messages that took."""
    talkers = [await server.join(cid, f"talker{i}") for i in range(CHATTERS)]
    gone = asyncio.create_task(watcher.wait_for("participant:left", lambda d: d["user_id"] == user))
    watcher.wait_s = 60
    sent = 0
    while not gone.done() and sent < MAX_MESSAGES:
        ack = await talkers[sent % CHATTERS].call("chat:send", {"text": f"{TEXT}{sent}"})
        assert ack == {"ok": True}
        sent += 1
        if sent % 50 == 0:
            await asyncio.sleep(0.05)  # the drop is announced between bursts
    await gone
    return sent


async def metric(server: Server, line: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    for row in text.splitlines():
        if row.startswith(line + " "):
            return float(row.split()[-1])
    return 0.0


async def test_a_client_that_never_reads_is_dropped_at_its_backlog(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with chatty(tmp_path) as server:  # the default bound: 2 MiB
        cid = await server.create_class()
        host = await server.join(cid, "teacher", "host")
        mallory = await a_reader_that_stopped(server, cid, "mallory")
        pongs = asyncio.create_task(pong_forever(mallory))
        await chat_until_gone(server, cid, host, "mallory")
        dropped = 'classroom_sockets_dropped_total{reason="backlog"}'
        assert await metric(server, dropped) == 1.0
        assert any("mallory" in r.message and "backlog" in r.message for r in caplog.records)
        # The others never noticed.
        assert (await host.call("chat:send", {"text": "still here"}))["ok"]
        await host.wait_for("chat:message", lambda d: d["text"] == "still here")
        pongs.cancel()
        mallory.close()


async def test_unsolicited_pongs_do_not_keep_a_stalled_client(tmp_path: Path) -> None:
    # No backlog bound: only the ping deadline can drop the client.
    unbounded = {"send_queue_bytes": 2**40, "send_queue_packets": 2**40}
    async with chatty(tmp_path, ping_interval_s=0.3, ping_timeout_s=2, **unbounded) as server:
        cid = await server.create_class()
        host = await server.join(cid, "teacher", "host")
        mallory = await a_reader_that_stopped(server, cid, "mallory")
        pongs = asyncio.create_task(pong_forever(mallory))
        await chat_until_gone(server, cid, host, "mallory")
        assert await metric(server, 'classroom_sockets_dropped_total{reason="ping_timeout"}') >= 1
        assert await metric(server, 'classroom_sockets_dropped_total{reason="backlog"}') == 0
        pongs.cancel()
        mallory.close()


async def test_a_reading_client_answering_pings_stays(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path, ping_interval_s=0.2, ping_timeout_s=2)) as server:
        cid = await server.create_class()
        ada = await server.join(cid, "ada")
        raw = await RawClient.open(server.url)
        await raw.join(server.token(cid, "bob"))
        for i in range(5):  # several ping rounds, answered as they are read
            raw.send_packet({"type": 2, "nsp": "/", "data": ["chat:send", {"text": "hi"}], "id": i})
            assert await raw.ack(i) == {"ok": True}
            await asyncio.sleep(0.3)
        assert "bob" in {d["user_id"] for d in ada.received("participant:joined")}
        assert not ada.received("participant:left")
        raw.close()


@pytest.mark.parametrize("transports", [("websocket",), ("polling",), ("polling", "websocket")])
async def test_clients_that_answer_pings_stay(tmp_path: Path, transports: tuple[str, ...]) -> None:
    async with running(settings_for(tmp_path, ping_interval_s=0.2, ping_timeout_s=1)) as server:
        cid = await server.create_class()
        ada = await server.join(cid, "ada")
        bob = server.peer(server.token(cid, "bob"), transports=transports)
        await bob.connect()
        for i in range(10):  # ten ping rounds and more
            assert await bob.call("chat:send", {"text": f"hi {i}"}) == {"ok": True}
            await asyncio.sleep(0.3)
        assert bob.sio.connected and not ada.received("participant:left")


async def test_websockets_are_not_compressed_by_default(msgpack_server: Server) -> None:
    client = await RawClient.open(msgpack_server.url, deflate=True)
    assert client.extensions == []
    client.close()


async def test_compression_can_be_turned_on(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path, ws_compression=True)) as server:
        client = await RawClient.open(server.url, deflate=True)
        assert client.extensions == ["permessage-deflate"]
        cid = await server.create_class()
        state = await client.join(server.token(cid, "ada"))
        assert state["you"]["user_id"] == "ada"
        client.close()
