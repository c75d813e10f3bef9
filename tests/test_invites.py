"""One invite link cannot mint unlimited identities: redemptions are rate-limited per address
and per invite, a browser keeps the identity it got, and an invite admits so many people."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from signaling.ratelimit import DEFAULT_RATES, Rate, RateLimiter
from tests.conftest import Server, running, settings_for
from tests.peer import Peer, Refused
from web.keys import GATEWAY


async def invite_of(server: Server) -> tuple[str, str]:
    status, body = await server.http("POST", "/api/classes", {"title": "Open day"})
    assert status == 201
    return body["id"], body["links"]["participant"].split("#invite=", 1)[1]


async def redeem(
    server: Server, cid: str, invite: str, address: str = "", **extra: Any
) -> tuple[int, dict[str, Any], str]:
    """POST /join as if through the local proxy from `address`: status, body, Retry-After."""
    headers = {"X-Forwarded-For": address} if address else {}
    body = {"invite": invite, "name": "Visitor", **extra}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.url}/api/classes/{cid}/join", json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json(), resp.headers.get("Retry-After", "")


def limits(server: Server, **rates: Rate) -> None:
    server.app[GATEWAY].limiter = RateLimiter(DEFAULT_RATES | rates)


async def test_redemptions_are_rate_limited_per_address(msgpack_server: Server) -> None:
    limits(msgpack_server, join=Rate(0.001, 3))
    cid, invite = await invite_of(msgpack_server)
    statuses = [(await redeem(msgpack_server, cid, invite, "203.0.113.9"))[0] for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    _, body, retry = await redeem(msgpack_server, cid, invite, "203.0.113.9")
    assert body["error"]["code"] == "rate_limited" and int(retry) >= 1
    assert (await redeem(msgpack_server, cid, invite, "203.0.113.10"))[0] == 201


async def test_redemptions_are_rate_limited_per_invite(msgpack_server: Server) -> None:
    limits(msgpack_server, invite=Rate(0.001, 3))
    cid, invite = await invite_of(msgpack_server)
    statuses = [
        (await redeem(msgpack_server, cid, invite, f"203.0.113.{i}"))[0] for i in range(1, 5)
    ]
    assert statuses == [201, 201, 201, 429]
    # Another class's invite is not held back.
    other, its_invite = await invite_of(msgpack_server)
    assert (await redeem(msgpack_server, other, its_invite, "203.0.113.99"))[0] == 201


async def test_an_earlier_token_keeps_its_identity(msgpack_server: Server) -> None:
    cid, invite = await invite_of(msgpack_server)
    _, first, _ = await redeem(msgpack_server, cid, invite)
    _, again, _ = await redeem(msgpack_server, cid, invite, token=first["token"])
    assert again["user_id"] == first["user_id"]
    # A token not made by this invite names nobody it may renew.
    other = msgpack_server.token(cid, "someone")
    _, fresh, _ = await redeem(msgpack_server, cid, invite, token=other)
    assert fresh["user_id"] not in (first["user_id"], "someone")


async def test_an_invite_admits_so_many_identities(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path, invite_identities=2)) as server:
        cid, invite = await invite_of(server)
        host = await server.join(cid, "teacher", "host")
        tokens = [(await redeem(server, cid, invite))[1]["token"] for _ in range(3)]
        first, second = (server.peer(token) for token in tokens[:2])
        await first.connect()
        await second.connect()
        with pytest.raises(Refused) as refused:
            await server.peer(tokens[2]).connect()
        assert refused.value.code == "full"
        status, body, _ = await redeem(server, cid, invite)
        assert (status, body["error"]["code"]) == (403, "full")
        # Those it admitted come back as themselves, even once it is used up.
        await first.close()
        await host.wait_for("participant:left")
        _, renewed, _ = await redeem(server, cid, invite, token=tokens[0])
        back = Peer(server.url, renewed["token"])
        server.peers.append(back)
        await back.connect()
        # Personal tokens are not counted against the invite.
        await server.join(cid, "named-student")
