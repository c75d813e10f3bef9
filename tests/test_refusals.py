"""Bad input gets a clear error, changes nothing, and never disturbs other clients."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest

from classroom.commands import Command
from signaling.auth import mint
from signaling.runtime import ClassRuntime, Session
from signaling.schemas import INBOUND
from tests.conftest import SECRET, Server
from tests.peer import Peer, Refused
from web.keys import GATEWAY

NOT_AN_OBJECT = [[1, 2], "text", 7, True]


@pytest.mark.parametrize("event", sorted(INBOUND))
async def test_malformed_payloads_for_every_event(msgpack_server: Server, event: str) -> None:
    cid = await msgpack_server.create_class()
    host = await msgpack_server.join(cid, "teacher", "host")
    bystander = await msgpack_server.join(cid, "bob")
    seq = host.last_seq
    for payload in [*NOT_AN_OBJECT, {"no_such_field": 1}]:
        ack = await host.call(event, payload)
        assert ack["ok"] is False and ack["error"]["code"] == "bad_request", (event, payload)
    # Nothing happened: no journal event, and the others are still served.
    assert msgpack_server.app[GATEWAY].registry.runtimes[cid].room.seq == seq
    assert (await bystander.call("chat:send", {"text": "still fine"}))["ok"]


MALFORMED = [
    ("chat:send", {}, "bad_request"),
    ("chat:send", {"text": ""}, "bad_request"),
    ("chat:send", {"text": 5}, "bad_request"),
    ("chat:send", {"text": "x" * 2001}, "too_large"),
    ("chat:send", {"text": "hi", "to_user": "bad id!"}, "bad_request"),
    ("chat:send", {"text": "hi", "to_user": "u" * 65}, "too_large"),
    ("hand:lower", {"user_id": 3}, "bad_request"),
    ("reaction:send", {"emoji": ""}, "bad_request"),
    ("reaction:send", {"emoji": "x" * 17}, "too_large"),
    ("participant:set_role", {"user_id": "bob", "role": "king"}, "bad_request"),
    ("participant:set_role", {"user_id": "bob", "role": "host"}, "conflict"),
    ("participant:set_role", {"user_id": "ghost", "role": "moderator"}, "not_found"),
    ("no:such:event", {}, "bad_request"),
]


@pytest.mark.parametrize(("event", "payload", "code"), MALFORMED)
async def test_malformed_table(
    msgpack_server: Server, event: str, payload: object, code: str
) -> None:
    cid = await msgpack_server.create_class()
    host = await msgpack_server.join(cid, "teacher", "host")
    await msgpack_server.join(cid, "bob")
    ack = await host.call(event, payload)
    assert ack["ok"] is False and ack["error"]["code"] == code
    assert ack["error"]["message"]


async def test_oversize_frame_closes_only_that_socket(msgpack_server: Server) -> None:
    cid = await msgpack_server.create_class()
    abuser = await msgpack_server.join(cid, "mallory")
    bob = await msgpack_server.join(cid, "bob")
    await abuser.sio.emit("chat:send", {"text": "x" * 100_000})
    await asyncio.wait_for(abuser.disconnected.wait(), 10)
    assert (await bob.call("chat:send", {"text": "unaffected"}))["ok"]
    await bob.wait_for("participant:left", lambda d: d["user_id"] == "mallory")


async def test_floods_are_rate_limited(msgpack_server: Server) -> None:
    cid = await msgpack_server.create_class()
    spammer = await msgpack_server.join(cid, "spammer")
    bob = await msgpack_server.join(cid, "bob")
    acks = await asyncio.gather(*(spammer.call("chat:send", {"text": "spam"}) for _ in range(40)))
    codes = [a["error"]["code"] for a in acks if not a["ok"]]
    assert codes and set(codes) == {"rate_limited"}
    assert sum(a["ok"] for a in acks) < 40
    # Others have buckets of their own.
    assert (await bob.call("chat:send", {"text": "hello"}))["ok"]


async def test_a_failing_handler_becomes_an_error_ack(msgpack_server: Server) -> None:
    async def broken(session: Session, runtime: ClassRuntime, cmd: Command) -> dict[str, object]:
        raise RuntimeError("boom")

    msgpack_server.app[GATEWAY].route("test:broken", Command, "control", broken)
    cid = await msgpack_server.create_class()
    peer = await msgpack_server.join(cid, "bob")
    ack = await peer.call("test:broken", {})
    assert ack == {"ok": False, "error": {"code": "internal", "message": ack["error"]["message"]}}
    assert (await peer.call("chat:send", {"text": "alive"}))["ok"]


def _expired(cid: str) -> str:
    now = int(time.time())
    claims = {"sub": "bob", "name": "Bob", "cls": cid, "role": "participant", "exp": now - 120}
    return jwt.encode(claims, SECRET, algorithm="HS256")


BAD_TOKENS = {
    "missing": lambda cid: "",
    "garbage": lambda cid: "not-a-jwt",
    "bad signature": lambda cid: mint("another-secret-of-enough-length-xx", cid, "b", "B", "host"),
    "expired": _expired,
    "unknown class": lambda cid: mint(SECRET, "nope", "bob", "Bob", "participant"),
    "bad role": lambda cid: jwt.encode(
        {"sub": "b", "name": "B", "cls": cid, "role": "admin", "exp": int(time.time()) + 60},
        SECRET,
        algorithm="HS256",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_bad_tokens_are_refused(msgpack_server: Server, case: str) -> None:
    cid = await msgpack_server.create_class()
    peer = Peer(msgpack_server.url, BAD_TOKENS[case](cid))
    with pytest.raises(Refused) as refused:
        await peer.connect()
    assert refused.value.code == "unauthorized"
    assert refused.value.data["message"]


async def test_token_for_another_class_is_refused(msgpack_server: Server) -> None:
    first, second = await msgpack_server.create_class(), await msgpack_server.create_class()
    peer = Peer(msgpack_server.url, msgpack_server.token(first, "bob"))
    with pytest.raises(Refused) as refused:
        await peer.connect(class_id=second)
    assert refused.value.code == "unauthorized"
