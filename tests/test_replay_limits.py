"""Limits on a recording's stream, as for a class: its capacity (`--max-replay-viewers`,
staff excepted), windows per viewer, and connects per client address."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from classroom.replay import encode_polls
from signaling.auth import mint_replay
from signaling.gateway import WINDOWS
from signaling.ratelimit import DEFAULT_RATES, Rate, RateLimiter
from tests.conftest import SECRET, Server, running, settings_for
from tests.peer import Peer, Refused
from tests.rawclient import RawClient
from tests.replay_domain import QUIZ
from tests.replay_package import published_for_replay
from web.keys import GATEWAY

RID = "r-capped"


def token(user: str, role: str = "viewer") -> str:
    return mint_replay(SECRET, RID, user, user.title(), role)  # type: ignore[arg-type]


async def watch(server: Server, user: str, role: str = "viewer") -> Peer:
    peer = server.peer(token(user, role))
    await peer.connect(expect="replay:state")
    return peer


async def refusal(server: Server, user: str) -> str:
    with pytest.raises(Refused) as refused:
        await watch(server, user)
    return refused.value.code


async def gone(server: Server, user: str) -> None:
    """Wait until the server has seen every socket of `user` leave the stream."""
    for _ in range(500):
        audience = server.app[GATEWAY].audiences.get(RID)
        if audience is None or user not in audience.sockets:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{user} still watching")


async def test_a_full_stream_refuses_viewers_but_not_staff(tmp_path: Path) -> None:
    published_for_replay(tmp_path, RID, encode_polls([QUIZ]))
    async with running(settings_for(tmp_path, max_replay_viewers=2)) as server:
        ann = await watch(server, "ann")
        await watch(server, "ben")
        assert await refusal(server, "cy") == "full"
        await watch(server, "teacher", "host")  # staff always get in
        # A viewer already watching may open more windows, up to a bound.
        windows = [ann] + [await watch(server, "ann") for _ in range(WINDOWS - 1)]
        assert await refusal(server, "ann") == "full"
        # Someone leaving every window frees a seat; refusals change nothing else.
        await ann.close()
        assert await refusal(server, "cy") == "full"  # other windows of ann's are open
        for peer in windows[1:]:
            await peer.close()
        await gone(server, "ann")
        cy = await watch(server, "cy")
        assert (await cy.call("replay:ask", {"text": "Why?", "at_ms": 0}))["ok"]
        metrics = server.app[GATEWAY].metrics.render().decode()
        assert 'classroom_connects_refused_total{code="full"} 3.0' in metrics


async def test_replay_connects_are_rate_limited_per_address(tmp_path: Path) -> None:
    published_for_replay(tmp_path, RID, encode_polls([QUIZ]))
    async with running(settings_for(tmp_path)) as server:
        rates = DEFAULT_RATES | {"connect": Rate(0.001, 3)}
        server.app[GATEWAY].limiter = RateLimiter(rates)
        outcomes = [await connect_from(server, "198.51.100.7", token("ann")) for _ in range(4)]
        assert outcomes == ["ok", "ok", "ok", "rate_limited"]
        assert await connect_from(server, "198.51.100.8", token("ann")) == "ok"
        await watch(server, "ben")  # local clients are not held back by it


async def connect_from(server: Server, address: str, replay_token: str) -> str:
    client = await RawClient.open(server.url, headers=[("X-Forwarded-For", address)])
    try:
        await client.join(replay_token, expect="replay:state")
        return "ok"
    except ConnectionError as refused:
        return "rate_limited" if "rate_limited" in str(refused) else str(refused)
    finally:
        client.close()
