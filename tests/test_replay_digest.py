"""The staff's Atom digest of a recording's replay, as a feed reader fetches it: with
`Authorization: Bearer <staff replay token>`, or with a signed feed URL for readers that
send no header; and every refusal of both."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.etree import ElementTree

import aiohttp

from classroom.replay import encode_polls
from signaling.auth import mint_replay
from tests.conftest import SECRET, Server, running, settings_for
from tests.replay_domain import QUIZ
from tests.replay_package import published_for_replay
from tests.test_recording_privacy import AsAdmin, bearer, fetch
from web.replay_access import feed_signature

ATOM = "{http://www.w3.org/2005/Atom}"
RID, OTHER = "r-digest", "r-other"
FEED = f"/api/recordings/{RID}/digest?since=0&format=atom"


def staff(role: str = "host", recording_id: str = RID, ttl_s: int = 3600) -> dict[str, str]:
    token = mint_replay(SECRET, recording_id, "teacher", "Teacher", role, ttl_s)  # type: ignore[arg-type]
    return bearer(token)


async def asked(server: Server, text: str) -> None:
    peer = server.peer(mint_replay(SECRET, RID, "ann", "Ann"))
    await peer.connect(expect="replay:state")
    assert (await peer.call("replay:ask", {"text": text, "at_ms": 61_000}))["ok"]


async def get(server: Server, path: str, headers: dict[str, str] | None = None) -> Any:
    """Status, content type and body of a GET, as a feed reader sees them."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.url + path, headers=headers) as resp,
    ):
        return resp.status, resp.content_type, await resp.read(), resp.headers


def entries(feed: bytes) -> list[str]:
    root = ElementTree.fromstring(feed)
    return [str(e.findtext(f"{ATOM}title")) for e in root.findall(f"{ATOM}entry")]


async def digest_server(tmp_path: Path) -> Any:
    for rid in (RID, OTHER):
        published_for_replay(tmp_path, rid, encode_polls([QUIZ]))
    return running(settings_for(tmp_path))


async def test_the_atom_digest_with_a_bearer_header(tmp_path: Path) -> None:
    async with await digest_server(tmp_path) as server:
        await asked(server, "Why is the sky blue?")
        for role in ("host", "moderator"):
            status, kind, feed, headers = await get(server, FEED, staff(role))
            assert (status, kind) == (200, "application/atom+xml")
            assert entries(feed) == ["new: Why is the sky blue?"]
            assert headers["Cache-Control"] == "no-store"
            assert b"Ann" not in feed  # a feed names nobody

        # Refused: no credentials, a viewer, another recording's staff, an expired token,
        # and a token in the query string (never read there: URLs end up in logs).
        status, _, _, headers = await get(server, FEED)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        viewer = bearer(mint_replay(SECRET, RID, "ann", "Ann"))
        assert (await get(server, FEED, viewer))[0] == 403
        assert (await get(server, FEED, staff(recording_id=OTHER)))[0] == 401
        assert (await get(server, FEED, staff(ttl_s=-60)))[0] == 401
        host_token = staff()["Authorization"].split()[1]
        assert (await get(server, FEED + "&" + urlencode({"token": host_token})))[0] == 401


async def test_a_signed_feed_url_for_readers_without_headers(tmp_path: Path) -> None:
    async with await digest_server(tmp_path) as server:
        await asked(server, "Why is the sky blue?")
        link = f"/api/recordings/{RID}/digest/link"
        # Only staff ask for one, for at most 30 days.
        assert (await fetch(server, "POST", link))[0] == 401
        viewer = bearer(mint_replay(SECRET, RID, "ann", "Ann"))
        status, body = await fetch(server, "POST", link, viewer)
        assert status == 403 and body["error"]["code"] == "forbidden"
        status, body = await fetch(server, "POST", link, staff(), {"ttl_s": 31 * 24 * 3600})
        assert status == 400 and body["error"]["code"] == "bad_request"
        status, body = await fetch(server, "POST", link, staff(), {"ttl_s": 24 * 3600})
        assert status == 201, body
        assert abs(body["expires_at"] - (time.time() + 24 * 3600)) < 120
        url = urlsplit(body["url"])
        assert url.path == f"/api/recordings/{RID}/digest" and "token" not in url.query
        signed = f"{url.path}?{url.query}"

        status, kind, feed, _ = await get(server, signed)  # no header at all
        assert (status, kind) == (200, "application/atom+xml")
        assert entries(feed) == ["new: Why is the sky blue?"]
        status, _, _, _ = await get(server, signed, AsAdmin)  # a reader that sends one anyway
        assert status == 200

        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        base = f"/api/recordings/{RID}/digest?"
        # Scoped: the JSON digest, another recording, a later expiry, a forged signature.
        assert (await get(server, base + urlencode(query | {"format": "json"})))[0] == 403
        other = f"/api/recordings/{OTHER}/digest?" + urlencode(query)
        assert (await get(server, other))[0] == 401
        later = query | {"exp": str(int(query["exp"]) + 3600)}
        assert (await get(server, base + urlencode(later)))[0] == 401
        assert (await get(server, base + urlencode(query | {"sig": "A" * 43})))[0] == 401
        assert (await get(server, base + urlencode({"format": "atom", "sig": "x"})))[0] == 401
        # Short-lived: once expired, refused.
        past = int(time.time()) - 1
        expired = {"format": "atom", "exp": past, "sig": feed_signature(SECRET, RID, past)}
        status, _, body, _ = await get(server, base + urlencode(expired))
        assert status == 401 and b"expired" in body
