"""Property-based tests of every inbound event against a live server.

For each event the server serves, payloads are drawn from its own schema
(valid ones) and from mutations of them and arbitrary values (invalid ones),
and sent by a host and by a participant over a real socket. Whatever is
sent: the reply is an ack of the wire's shape, never `internal`; a refused
request changes nothing (no journal event, no peer connection); the server
and the other clients go on. Raw frames that are not Socket.IO at all are
fuzzed the same way. Bounded: a fixed number of examples, no shrinking
deadline, a small size for every value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signaling.ratelimit import DEFAULT_RATES, Rate, RateLimiter
from tests.conftest import Server, running, settings_for
from tests.peer import Peer
from tests.rawclient import RawClient
from web.keys import GATEWAY, MEDIA, REGISTRY

CODES = {"bad_request", "forbidden", "not_found", "conflict", "rate_limited", "too_large"}
EXAMPLES = 120
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ENDS_THE_CLASS = {"class:end"}
"""Valid, it would end the class the examples share: only its invalid payloads are sent."""
USERS = ["teacher", "pat", "other", "ghost"]
LATER = st.integers(3600, 86_400)
"""Timers (poll and breakout durations) far beyond the test, so none fires during it."""
UNLIMITED = {family: Rate(1e6, 1e6) for family in DEFAULT_RATES}
SHORT = 24
"""Longest string or list drawn for a valid payload (size limits are fuzzed separately)."""

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@dataclass
class Stage:
    server: Server
    cid: str
    host: Peer
    participant: Peer
    known: dict[str, list[str]]
    """Ids that exist in the class, drawn for fields that name them."""

    def schemas(self) -> dict[str, type[msgspec.Struct]]:
        from signaling.schemas import INBOUND

        gateway = self.server.app[GATEWAY]
        found: dict[str, type[msgspec.Struct]] = {e: s.command for e, s in INBOUND.items()}
        return found | {e: r.schema for e, r in gateway.routes.items()}

    def state(self) -> tuple[int, int]:
        """What a refused request must not change: the journal, the peer connections."""
        runtime = self.server.app[REGISTRY].runtimes[self.cid]
        return runtime.room.seq, self.server.app[MEDIA].peer_connections()


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    async with running(settings_for(tmp_path, media_host=("127.0.0.1",))) as server:
        # Limits generous enough that examples reach the handlers (limits are tested apart).
        server.app[GATEWAY].limiter = RateLimiter(UNLIMITED)
        cid = await server.create_class()
        host = await server.join(cid, "teacher", "host")
        pat = await server.join(cid, "pat")
        await server.join(cid, "other")
        poll = await host.call("poll:create", {"question": "Q?", "kind": "truefalse"})
        question = await pat.call("qa:ask", {"text": "Why?"})
        known = {"user": USERS, "poll": [poll["poll_id"]], "question": [question["question_id"]]}
        yield Stage(server, cid, host, pat, known)


# -- payloads drawn from a schema --------------------------------------------


def valid(kind: mi.Type, known: dict[str, list[str]], name: str = "") -> st.SearchStrategy[Any]:
    """Values `kind` accepts, naming existing things where a field names one."""
    if name in ("duration_s",):
        return LATER
    if name == "grace_s":
        return st.just(0)
    for suffix, ids in (("user_id", "user"), ("to", "user"), ("to_user", "user"),
                        ("poll_id", "poll"), ("question_id", "question")):  # fmt: skip
        if name == suffix:
            return st.sampled_from(known[ids]) | _scalar(kind)
    return _scalar(kind) if not isinstance(kind, mi.StructType) else _struct(kind, known)


def _scalar(kind: mi.Type) -> st.SearchStrategy[Any]:
    match kind:
        case mi.StrType(min_length=low, max_length=high, pattern=pattern):
            size = min(high or SHORT, SHORT)
            text = st.text(min_size=low or 0, max_size=max(size, low or 0))
            return text.filter(re.compile(pattern).search) if pattern else text
        case mi.IntType(ge=ge, gt=gt, le=le, lt=lt):
            low = ge if ge is not None else (gt + 1 if gt is not None else -(2**31))
            high = le if le is not None else (lt - 1 if lt is not None else 2**31)
            return st.integers(low, high)
        case mi.FloatType():
            return st.floats(allow_nan=False, allow_infinity=False)
        case mi.BoolType():
            return st.booleans()
        case mi.NoneType():
            return st.none()
        case mi.LiteralType(values=values):
            return st.sampled_from(values)
        case mi.ListType(item_type=item, min_length=low, max_length=high):
            items = _scalar(item) if not isinstance(item, mi.StructType) else _struct(item, {})
            return st.lists(items, min_size=low or 0, max_size=min(high or 4, 4))
        case mi.DictType(key_type=key, value_type=value, max_length=high):
            return st.dictionaries(_scalar(key), _scalar(value), max_size=min(high or 4, 4))
        case mi.UnionType(types=types):
            return st.one_of(
                *[_scalar(t) if not isinstance(t, mi.StructType) else _struct(t, {}) for t in types]
            )
        case mi.StructType():
            return _struct(kind, {})
    return JSON


def _struct(kind: mi.StructType, known: dict[str, list[str]]) -> st.SearchStrategy[dict[str, Any]]:
    known = known or {"user": USERS, "poll": ["p"], "question": ["q"]}
    required = {f.encode_name: valid(f.type, known, f.name) for f in kind.fields if f.required}
    optional = {f.encode_name: valid(f.type, known, f.name) for f in kind.fields if not f.required}
    return st.fixed_dictionaries(required, optional=optional)


def invalid(good: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """Payloads a schema must refuse, or at least survive: shapes, types, sizes."""
    return st.one_of(
        JSON,
        good.map(lambda d: {**d, "unexpected": 1}),
        st.tuples(good, st.text(max_size=8), JSON).map(lambda t: {**t[0], t[1]: t[2]}),
        good.filter(bool).map(lambda d: dict(list(d.items())[1:])),
        good.map(lambda d: {k: "x" * 5000 if isinstance(v, str) else v for k, v in d.items()}),
    )


# -- the properties ------------------------------------------------------------


async def exchange(stage: Stage, peer: Peer, event: str, payload: Any) -> None:
    before = stage.state()
    ack = await peer.call(event, payload)
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
    if ack["ok"]:
        return
    assert ack["error"]["code"] in CODES, (event, payload, ack)
    assert stage.state() == before, (event, payload, ack)


def accepts(schema: type[msgspec.Struct], payload: Any) -> bool:
    try:
        msgspec.convert({} if payload is None else payload, schema, strict=True)
    except msgspec.ValidationError:
        return False
    return True


async def fuzz(stage: Stage, peer: Peer, data: st.DataObject) -> None:
    schemas = stage.schemas()
    event = data.draw(st.sampled_from(sorted(schemas)), label="event")
    good = _struct(mi.type_info(schemas[event]), stage.known)  # type: ignore[arg-type]
    if event in ENDS_THE_CLASS:
        payloads = invalid(good).filter(lambda payload: not accepts(schemas[event], payload))
    else:
        payloads = good | invalid(good)
    await exchange(stage, peer, event, data.draw(payloads, label="payload"))


async def still_served(stage: Stage) -> None:
    for peer in (stage.host, stage.participant):
        assert peer.sio.connected
        assert (await peer.call("reaction:send", {"emoji": "👍"}))["ok"]


@FUZZ
@given(data=st.data())
async def test_every_event_from_a_participant(stage: Stage, data: st.DataObject) -> None:
    await fuzz(stage, stage.participant, data)
    await still_served(stage)


@FUZZ
@given(data=st.data())
async def test_every_event_from_a_host(stage: Stage, data: st.DataObject) -> None:
    await fuzz(stage, stage.host, data)
    await still_served(stage)


@FUZZ
@given(frame=st.binary(max_size=64) | st.builds(msgspec.msgpack.encode, JSON))
async def test_raw_frames(stage: Stage, frame: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    client = await RawClient.open(stage.server.url)
    await client.join(stage.server.token(stage.cid, "raw"))
    client.send_bytes(frame)
    client.send_packet({"type": 2, "nsp": "/", "id": 1, "data": ["hand:lower", {}]})
    assert await client.ack(1) == {"ok": True}  # the socket is still served after it
    client.close()
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    await still_served(stage)
