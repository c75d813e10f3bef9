"""Input the gate must refuse cleanly: frames that cannot be decoded, reserved event names,
free-form media signals, names that rearrange or hide text, and short secrets."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from server.app import create_app
from signaling.auth import mint
from tests.conftest import SECRET, Server, running, settings_for
from tests.peer import Peer, Refused
from tests.rawclient import RawClient
from tests.test_cli import run_cli
from web.keys import GATEWAY, REGISTRY
from web.settings import Settings


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def joined(server: Server, cid: str, user: str) -> RawClient:
    client = await RawClient.open(server.url)
    await client.join(server.token(cid, user))
    return client


def errors(server: Server, code: str) -> float:
    text = server.app[GATEWAY].metrics.render().decode()
    line = f'classroom_errors_total{{code="{code}"}} '
    return next((float(row.split()[-1]) for row in text.splitlines() if row.startswith(line)), 0)


async def test_frames_that_cannot_be_decoded_are_bad_requests(
    msgpack_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cid = await msgpack_server.create_class()
    client = await joined(msgpack_server, cid, "mallory")
    seq = msgpack_server.app[REGISTRY].runtimes[cid].room.seq
    event = {"type": 2, "nsp": "/", "id": 5}
    # Nested within what msgpack decodes, but deeper than any request: answered.
    client.send_packet(event | {"data": ["chat:send", {"text": nested(40)}]})
    assert (await client.ack(5))["error"]["code"] == "bad_request"
    # Nested beyond the decoder, not msgpack, not a packet: no ack id can be read.
    client.send_bytes(b"\x91" * 5000 + b"\xc0")
    client.send_bytes(b"\xc1\xc1\xc1")
    client.send_packet({"type": "event", "nsp": 7})
    client.send_packet(event | {"id": 6, "data": "not a list"})
    assert (await client.ack(6))["error"]["code"] == "bad_request"
    # The socket is still served, and nothing happened.
    client.send_packet(event | {"id": 7, "data": ["chat:send", {"text": "hello"}]})
    assert await client.ack(7) == {"ok": True}
    assert msgpack_server.app[REGISTRY].runtimes[cid].room.seq == seq + 1
    assert errors(msgpack_server, "bad_request") >= 5
    assert no_tracebacks(caplog) == []
    client.close()


async def test_bad_frames_are_rate_limited(msgpack_server: Server) -> None:
    cid = await msgpack_server.create_class()
    client = await joined(msgpack_server, cid, "mallory")
    for i in range(30):
        client.send_packet({"type": 2, "nsp": "/", "id": i, "data": nested(40)})
    codes = [(await client.ack(i))["error"]["code"] for i in range(30)]
    assert "rate_limited" in codes and codes[0] == "bad_request"
    client.close()


async def test_deep_json_frames_are_answered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running(settings_for(tmp_path, "json")) as server:
        cid = await server.create_class()
        ada = await server.join(cid, "ada")
        client = await RawClient.open(server.url)
        assert (await client.receive()).startswith("0")  # type: ignore[union-attr]
        client.send_text("40" + json.dumps({"token": server.token(cid, "mallory")}))
        client.send_text("429" + "[" * 5000 + "]" * 5000)  # deeper than Python's JSON parser goes
        while not (reply := await client.receive()).startswith("439"):  # type: ignore[union-attr]
            pass
        assert '"bad_request"' in reply
        assert no_tracebacks(caplog) == []
        assert (await ada.call("chat:send", {"text": "fine"}))["ok"]
        client.close()


async def test_reserved_event_names_reach_no_handler(msgpack_server: Server) -> None:
    cid = await msgpack_server.create_class()
    host = await msgpack_server.join(cid, "teacher", "host")
    client = await joined(msgpack_server, cid, "mallory")
    for i, name in enumerate(["disconnect", "connect", "connect_error"]):
        client.send_packet({"type": 2, "nsp": "/", "id": i, "data": [name, {}]})
        assert (await client.ack(i))["error"]["code"] == "bad_request"
    client.send_packet({"type": 2, "nsp": "/", "id": 9, "data": ["hand:raise", {}]})
    assert await client.ack(9) == {"ok": True}
    assert not host.received("participant:left")
    client.close()


async def test_engineio_garbage_closes_only_that_connection(
    msgpack_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cid = await msgpack_server.create_class()
    ada = await msgpack_server.join(cid, "ada")
    for garbage in ("x", "", "9999"):
        client = await joined(msgpack_server, cid, "mallory")
        client.send_text(garbage)
        assert await client.closed_by_server()
    assert no_tracebacks(caplog) == []
    assert (await ada.call("chat:send", {"text": "fine"}))["ok"]


async def test_mesh_signals_carry_only_what_a_peer_connection_needs(server: Server) -> None:
    cid = await server.create_class(media="mesh")
    ann = await server.join(cid, "ann")
    bob = await server.join(cid, "bob")
    for data in (
        {"evil": "x"},
        {"description": {"type": "offer", "sdp": "v=0", "extra": nested(3)}},
        {"candidate": {"candidate": 5}},
        {"sources": {"s": "projector"}},
        {"type": "bribe", "sdp": "v=0"},
    ):
        ack = await ann.call("rtc:signal", {"to": "bob", "data": data})
        assert ack["error"]["code"] == "bad_request", data
    assert bob.received("rtc:signal") == []
    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}
    assert await ann.call("rtc:signal", {"to": "bob", "data": {"candidate": candidate}}) == {
        "ok": True
    }
    assert (await bob.wait_for("rtc:signal"))["data"] == {"candidate": candidate}


HIDDEN_OR_REORDERING = ["   ", "\u3000", "\u200b", "Ada\u202eevil", "x\u2066y", "Bob\n", "\x07"]


@pytest.mark.parametrize("name", HIDDEN_OR_REORDERING)
async def test_names_that_hide_or_reorder_text_are_refused(
    msgpack_server: Server, name: str
) -> None:
    status, body = await msgpack_server.http("POST", "/api/classes", {"title": "Open day"})
    cid, invite = body["id"], body["links"]["participant"].split("#invite=", 1)[1]
    status, body = await msgpack_server.http(
        "POST", f"/api/classes/{cid}/join", {"invite": invite, "name": name}, admin=False
    )
    assert (status, body["error"]["code"]) == (400, "bad_request")
    assert (
        "control or text-direction" in body["error"]["message"]
        or "length" in body["error"]["message"]
    )
    with pytest.raises(Refused) as refused:
        await Peer(msgpack_server.url, mint(SECRET, cid, "u1", name, "participant")).connect()
    assert refused.value.code == "unauthorized"
    host = await msgpack_server.join(cid, "teacher", "host")
    ack = await host.call("breakout:open", {"rooms": [{"name": name}], "assignment": "self"})
    assert ack["error"]["code"] == "bad_request"


async def test_names_people_actually_have_are_accepted(msgpack_server: Server) -> None:
    cid = await msgpack_server.create_class()
    for user, name in [
        ("a", "José Ñúñez"),
        ("b", "محمد"),
        ("c", "👩‍🏫 Ms Rivera"),
        ("d", "李 小龍"),
    ]:
        state = await msgpack_server.join(cid, user, name=name)
        assert state.received("class:state")[0]["you"]["name"] == name


def test_short_secrets_are_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        create_app(Settings(port=0, data_dir=tmp_path, secret="short-secret"))
    done = run_cli("serve", "--port", "0", "--data-dir", str(tmp_path), "--secret", "x")
    assert done.returncode != 0 and "at least 32 bytes" in done.stderr
    done = run_cli("token", "--class", "c", "--user", "u", "--name", "N", "--role", "host",
                   "--secret", "hunter2")  # fmt: skip
    assert done.returncode != 0 and "at least 32 bytes" in done.stderr
