"""The REST API and pages over a real server."""

from __future__ import annotations

import aiohttp

from signaling.auth import verify
from tests.conftest import SECRET, Server


async def test_health_info_and_metrics(msgpack_server: Server) -> None:
    status, health = await msgpack_server.http("GET", "/healthz", admin=False)
    assert status == 200 and health["ok"] is True
    status, info = await msgpack_server.http("GET", "/api/info", admin=False)
    assert status == 200 and info["wire"] == "msgpack" and info["version"]
    cid = await msgpack_server.create_class()
    peer = await msgpack_server.join(cid, "bob")
    await peer.call("chat:send", {"text": "hi"})
    await peer.call("chat:send", {"text": ""})
    async with aiohttp.ClientSession() as http, http.get(msgpack_server.url + "/metrics") as resp:
        text = await resp.text()
    assert resp.status == 200
    assert "classroom_connected_sockets 1.0" in text
    assert "classroom_live_classes 1.0" in text and "classroom_redis_up 1.0" in text
    assert 'classroom_events_handled_total{event="chat:send"} 2.0' in text
    assert 'classroom_errors_total{code="bad_request"} 1.0' in text
    assert "classroom_journal_records_total 2.0" in text  # bob joined, then one message
    assert 'classroom_handler_seconds_count{event="chat:send"} 2.0' in text


async def test_create_and_get_class(msgpack_server: Server) -> None:
    status, body = await msgpack_server.http("POST", "/api/classes", {"title": "Biology"})
    assert status == 201
    cid = body["id"]
    host_link, invite_link = body["links"]["host"], body["links"]["participant"]
    assert host_link.startswith(f"{msgpack_server.settings.base_url}/c/{cid}#token=")
    assert "#invite=" in invite_link
    claims = verify(SECRET, host_link.split("#token=")[1], cid)
    assert claims.role == "host"
    status, got = await msgpack_server.http("GET", f"/api/classes/{cid}", admin=False)
    assert status == 200
    assert got["id"] == cid and got["title"] == "Biology" and got["state"] == "live"
    status, got = await msgpack_server.http("GET", "/api/classes/nope", admin=False)
    assert status == 404 and got["error"]["code"] == "not_found"


async def test_admin_key_is_required(msgpack_server: Server) -> None:
    status, body = await msgpack_server.http("POST", "/api/classes", {"title": "x"}, admin=False)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    cid = await msgpack_server.create_class()
    token_req = {"user_id": "eve", "name": "Eve", "role": "host"}
    status, _ = await msgpack_server.http("POST", f"/api/classes/{cid}/tokens", token_req, False)
    assert status == 401


async def test_bad_bodies_are_refused(msgpack_server: Server) -> None:
    for body in ({}, {"title": ""}, {"title": "x" * 201}, {"title": "x", "media": "p2p"}, [1]):
        status, reply = await msgpack_server.http("POST", "/api/classes", body)
        assert status == 400 and reply["error"]["code"] == "bad_request", body
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            msgpack_server.url + "/api/classes",
            data=b"{" * 20_000,
            headers={"Authorization": "Bearer test-admin-key"},
        ) as resp,
    ):
        assert resp.status == 413


async def test_minted_tokens_join(msgpack_server: Server) -> None:
    cid = await msgpack_server.create_class()
    req = {"user_id": "mod1", "name": "Moira", "role": "moderator", "ttl_s": 600}
    status, body = await msgpack_server.http("POST", f"/api/classes/{cid}/tokens", req)
    assert status == 201
    peer = msgpack_server.peer(body["token"])
    snap = await peer.connect()
    assert snap["you"]["role"] == "moderator" and snap["you"]["name"] == "Moira"
    bad = {"user_id": "a b", "name": "x", "role": "participant"}
    status, _ = await msgpack_server.http("POST", f"/api/classes/{cid}/tokens", bad)
    assert status == 400


async def test_invite_is_exchanged_for_a_personal_token(msgpack_server: Server) -> None:
    _, body = await msgpack_server.http("POST", "/api/classes", {"title": "Chemistry"})
    cid, invite = body["id"], body["links"]["participant"].split("#invite=")[1]
    path = f"/api/classes/{cid}/join"
    tokens = []
    for name in ("Ann", "Ben"):
        status, got = await msgpack_server.http(
            "POST", path, {"invite": invite, "name": name}, False
        )
        assert status == 201
        tokens.append(got["token"])
    first, second = (verify(SECRET, t, cid) for t in tokens)
    assert first.role == second.role == "participant"
    assert first.user_id != second.user_id and first.name == "Ann"
    status, got = await msgpack_server.http("POST", path, {"invite": tokens[0], "name": "X"}, False)
    assert status == 401
    status, got = await msgpack_server.http("POST", path, {"invite": invite, "name": ""}, False)
    assert status == 400


async def test_pages_carry_a_strict_csp(msgpack_server: Server) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/", "/c/abc", "/static/classroom.js", "/c/bad%20id"):
            async with http.get(msgpack_server.url + path) as resp:
                csp = resp.headers["Content-Security-Policy"]
                assert "script-src 'self'" in csp and "unsafe-inline" not in csp
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
        async with http.get(msgpack_server.url + "/c/abc") as resp:
            assert resp.status == 200 and "classroom.js" in await resp.text()
        async with http.get(msgpack_server.url + "/static/../pyproject.toml") as resp:
            assert resp.status in (403, 404)
