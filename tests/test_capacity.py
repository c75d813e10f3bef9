"""Limits that keep one client or one class from crowding out the rest: rate limits per
(class, user), class capacity, connects per address, a host id per class."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from signaling.ratelimit import DEFAULT_RATES, Rate, RateLimiter
from tests.conftest import SECRET, Server, running, settings_for
from tests.peer import Refused
from tests.rawclient import RawClient
from web.keys import GATEWAY


def burst(family: str) -> int:
    return int(DEFAULT_RATES[family].burst)


async def test_rate_limits_are_per_class_not_per_user_id(msgpack_server: Server) -> None:
    # Two classes' hosts both come from their class's host link.
    first, second = await msgpack_server.create_class(), await msgpack_server.create_class()
    one = await msgpack_server.join(first, "teacher", "host")
    other = await msgpack_server.join(second, "teacher", "host")
    acks = [await one.call("class:lock", {"publish": i % 2 == 0}) for i in range(burst("control"))]
    assert all(a["ok"] for a in acks)
    assert (await one.call("class:lock", {"publish": True}))["error"]["code"] == "rate_limited"
    # The host of the other class has buckets of its own.
    assert (await other.call("class:lock", {"publish": False}))["ok"]


async def test_each_class_host_link_has_its_own_user_id(msgpack_server: Server) -> None:
    ids = []
    for title in ("Algebra", "Biology"):
        status, body = await msgpack_server.http("POST", "/api/classes", {"title": title})
        assert status == 201
        token = body["links"]["host"].split("#token=", 1)[1]
        ids.append(jwt.decode(token, SECRET, algorithms=["HS256"])["sub"])
    assert len(set(ids)) == 2 and "host" not in ids


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_buckets_are_dropped_when_the_user_leaves(msgpack_server: Server) -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    msgpack_server.app[GATEWAY].limiter = limiter
    cid = await msgpack_server.create_class()
    bob = await msgpack_server.join(cid, "bob")
    for _ in range(burst("chat")):
        assert (await bob.call("chat:send", {"text": "hi"}))["ok"]
    assert (await bob.call("chat:send", {"text": "hi"}))["error"]["code"] == "rate_limited"
    assert len(limiter) == 1
    await bob.close()
    # Leaving and coming back does not refill an empty bucket...
    bob = await msgpack_server.join(cid, "bob")
    assert (await bob.call("chat:send", {"text": "hi"}))["error"]["code"] == "rate_limited"
    await bob.close()
    # ...but once refilled, a departed user's buckets are let go.
    clock.now += 60
    carol = await msgpack_server.join(cid, "carol")
    await carol.close()
    await msgpack_server.join(cid, "dan")
    assert len(limiter) == 0


async def test_a_full_class_refuses_participants_but_not_staff(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path, max_participants=2)) as server:
        cid = await server.create_class()
        ada = await server.join(cid, "ada")
        bob = await server.join(cid, "bob")
        with pytest.raises(Refused) as refused:
            await server.join(cid, "cy")
        assert refused.value.code == "full"
        host = await server.join(cid, "teacher", "host")  # staff always get in
        # Someone already in may open a second window (it replaces the first)...
        await server.peer(server.token(cid, "bob")).connect()
        await bob.wait_for("session:replaced")
        # ...and someone leaving frees a seat.
        await ada.close()
        await host.wait_for("participant:left", lambda d: d["user_id"] == "ada")
        cy = await server.join(cid, "cy")
        assert cy.received("class:state")[0]["you"]["user_id"] == "cy"
        # Another class has seats of its own.
        await server.join(await server.create_class(), "eve")


async def connect_from(server: Server, address: str, token: str) -> str:
    """Connect as if through the local proxy from `address`; the refusal code, or "ok"."""
    client = await RawClient.open(server.url, headers=[("X-Forwarded-For", address)])
    try:
        await client.join(token)
        return "ok"
    except ConnectionError as refused:
        return "rate_limited" if "rate_limited" in str(refused) else str(refused)
    finally:
        client.close()


async def test_connects_are_rate_limited_per_address(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path)) as server:
        rates = DEFAULT_RATES | {"connect": Rate(0.001, 3)}
        server.app[GATEWAY].limiter = RateLimiter(rates)
        cid = await server.create_class()
        token = server.token(cid, "ada")
        outcomes = [await connect_from(server, "198.51.100.7", token) for _ in range(4)]
        assert outcomes == ["ok", "ok", "ok", "rate_limited"]
        # Another address, and local clients, are not held back by it.
        assert await connect_from(server, "198.51.100.8", token) == "ok"
        assert (await server.join(cid, "bob")).received("class:state")


async def test_connect_refusals_are_counted(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path, max_participants=1)) as server:
        cid = await server.create_class()
        await server.join(cid, "ada")
        with pytest.raises(Refused):
            await server.join(cid, "bob")
        text = server.app[GATEWAY].metrics.render().decode()
        assert 'classroom_connects_refused_total{code="full"} 1.0' in text
