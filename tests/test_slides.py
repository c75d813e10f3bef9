"""Slides over a real server: uploads rendered by the worker, the current page for everyone
(late joiners too), presenters, private page images, and the uploads that are refused."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests import pdfs
from tests.conftest import Server, running, settings_for
from tests.test_recording import get, published
from web.slides_api import SLIDES

TITLES = ["Limits", "Derivatives", "Integrals"]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with running(settings_for(tmp_path, slides_max_mb=2, slides_max_pages=20)) as srv:
        yield srv


async def request(
    server: Server, method: str, path: str, token: str | None, body: bytes | None = None
) -> tuple[int, Any, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, server.url + path, data=body, headers=headers) as resp,
    ):
        raw = await resp.read()
        is_json = resp.content_type == "application/json"
        return resp.status, (await resp.json() if is_json else resp.content_type), raw


async def upload(server: Server, cid: str, token: str, data: bytes, name: str = "Calculus") -> Any:
    status, body, _ = await request(
        server, "POST", f"/api/classes/{cid}/slides?name={name}", token, data
    )
    assert status == 202, body
    return body


async def rendered(server: Server, cid: str, token: str, deck_id: str) -> Any:
    """The deck's progress once its worker is done (ready or failed)."""
    async with asyncio.timeout(60):
        while True:
            status, body, _ = await request(
                server, "GET", f"/api/classes/{cid}/slides/{deck_id}", token
            )
            assert status == 200, body
            if body["state"] in ("ready", "failed"):
                return body
            await asyncio.sleep(0.05)


async def test_a_host_uploads_a_deck_and_everyone_sees_the_page(server: Server) -> None:
    cid = await server.create_class()
    host_token = server.token(cid, "teacher", "host")
    host = await server.join(cid, "teacher", "host")
    ana = await server.join(cid, "ana")
    deck = await upload(server, cid, host_token, pdfs.deck(TITLES))
    assert deck["state"] in ("queued", "rendering")
    done = await rendered(server, cid, host_token, deck["id"])
    assert (done["state"], done["pages"], done["done"], done["error"]) == ("ready", 3, 3, None)
    added = await host.wait_for("slides:deck")
    assert added["deck"] == {"id": deck["id"], "name": "Calculus", "pages": 3}
    assert (await host.call("slides:decks"))["decks"] == [added["deck"]]

    ack = await host.call("slides:show", {"deck_id": deck["id"], "page": 2, "zoom": 150})
    assert ack == {"ok": True}
    view = await ana.wait_for("slides:view")
    assert (view["deck_id"], view["page"], view["zoom"], view["room"]) == (
        deck["id"],
        2,
        150,
        "main",
    )
    assert not ana.received("slides:deck")  # the deck list is for those who present

    # A late joiner's snapshot shows the page; its image is served to class members only.
    late = server.peer(server.token(cid, "ben"))
    state = await late.connect()
    assert state["slides"]["view"]["page"] == 2 and state["slides"]["decks"] == []
    ben_token = server.token(cid, "ben")
    pages = f"/api/classes/{cid}/slides/{deck['id']}/pages"
    status, kind, image = await request(server, "GET", f"{pages}/2", ben_token)
    assert (status, kind, image[:4], image[8:12]) == (200, "image/webp", b"RIFF", b"WEBP")
    # Pages not shown yet stay private, to everyone but hosts and presenters.
    assert (await request(server, "GET", f"{pages}/3", ben_token))[0] == 404
    assert (await request(server, "GET", f"{pages}/3", host_token))[0] == 200
    assert (await request(server, "GET", f"{pages}/2", None))[0] == 401
    other = await server.create_class("Other")
    assert (await request(server, "GET", f"{pages}/2", server.token(other, "ben")))[0] == 401
    assert (await request(server, "GET", f"{pages}/9", host_token))[0] == 404
    assert (await request(server, "GET", f"{pages}/..%2Fdeck.json", host_token))[0] == 404


async def test_the_host_makes_a_participant_presenter(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    ana = await server.join(cid, "ana")
    ana_token = server.token(cid, "ana")
    status, body, _ = await request(
        server, "POST", f"/api/classes/{cid}/slides", ana_token, pdfs.deck(TITLES)
    )
    assert (status, body["error"]["code"]) == (403, "forbidden")
    refused = await ana.call("slides:show", {"page": 1})
    assert refused["error"]["code"] == "forbidden"

    assert (await host.call("slides:presenter", {"user_id": "ana"}))["ok"]
    granted = await ana.wait_for("slides:presenter")
    assert granted == granted | {"user_id": "ana", "on": True}
    deck = await upload(server, cid, ana_token, pdfs.deck(TITLES[:2]), "Ana's")
    assert (await rendered(server, cid, ana_token, deck["id"]))["state"] == "ready"
    await ana.wait_for("slides:deck")  # the uploader hears of their deck
    assert (await ana.call("slides:show", {"deck_id": deck["id"], "page": 2}))["ok"]
    assert (await host.wait_for("slides:view"))["page"] == 2
    assert (await ana.call("slides:show", {"deck_id": deck["id"], "page": 3}))["error"][
        "code"
    ] == "bad_request"
    # A presenter's grant outlives a reconnect; taking it back takes it all.
    await ana.close()
    before = len(ana.events)
    await ana.connect()
    state = await ana.wait_for("class:state", after=before)
    assert state["slides"]["presenters"] == ["ana"] and len(state["slides"]["decks"]) == 1
    assert (await host.call("slides:presenter", {"user_id": "ana", "on": False}))["ok"]
    await ana.wait_for("slides:presenter", lambda d: not d["on"])
    assert (await ana.call("slides:show", {"page": 1}))["error"]["code"] == "forbidden"
    assert (await ana.call("slides:decks"))["error"]["code"] == "forbidden"


def quick_bomb(megabytes: int) -> bytes:
    """A decompression bomb made in a second: one compressed megabyte of spaces, repeated
    (a full flush makes each piece stand alone), with the right checksum."""
    chunk = b" " * 2**20
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflate.compress(chunk)
    deflate.flush(zlib.Z_FULL_FLUSH)
    piece = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(megabytes):
        checksum = zlib.adler32(chunk, checksum)
    data = b"\x78\xda" + piece * megabytes + b"\x03\x00" + checksum.to_bytes(4, "big")
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(data), data)
    return pdfs.pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
            stream,
        ]
    )


async def test_bad_and_hostile_uploads_are_refused_and_the_server_goes_on(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    token = server.token(cid, "teacher", "host")
    path = f"/api/classes/{cid}/slides"
    status, body, _ = await request(server, "POST", path, token, b"\0" * (3 * 2**20))
    assert (status, body["error"]["code"]) == (413, "too_large")
    status, body, _ = await request(server, "POST", path, token, pdfs.not_pdf())
    assert status == 415 and "not a PDF" in body["error"]["message"]
    status, body, _ = await request(server, "POST", path, token, b"")
    assert status == 400

    cases = {
        "encrypted": (pdfs.encrypted(), "encrypted"),
        "broken": (pdfs.broken(), "not a PDF that can be read"),
        "too many pages": (pdfs.pages(21), "at most 20"),
        "bomb": (quick_bomb(1200), "could not be rendered"),
    }
    for name, (data, reason) in cases.items():
        deck = await upload(server, cid, token, data, name.replace(" ", "-"))
        failed = await rendered(server, cid, token, deck["id"])
        assert failed["state"] == "failed" and reason in failed["error"], (name, failed)
        # Nothing of a refused deck is kept, and the class never heard of it.
        store = server.app[SLIDES].store
        assert not store.folder(cid, deck["id"]).exists()
    assert not host.received("slides:deck")
    # The server is unharmed: the next deck renders.
    deck = await upload(server, cid, token, pdfs.deck(TITLES))
    assert (await rendered(server, cid, token, deck["id"]))["state"] == "ready"


async def test_a_worker_past_its_deadline_is_killed(server: Server) -> None:
    cid = await server.create_class()
    await server.join(cid, "teacher", "host")
    token = server.token(cid, "teacher", "host")
    decks = server.app[SLIDES]
    decks.limits = type(decks.limits)(timeout_s=0.001)  # no worker starts that fast
    deck = await upload(server, cid, token, pdfs.deck(TITLES))
    failed = await rendered(server, cid, token, deck["id"])
    assert failed["state"] == "failed" and "longer than" in failed["error"]


async def test_a_recording_keeps_the_slides_their_ink_and_their_text(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    token = server.token(cid, "teacher", "host")
    deck = await upload(server, cid, token, pdfs.deck(TITLES))
    assert (await rendered(server, cid, token, deck["id"]))["state"] == "ready"
    assert (await host.call("slides:show", {"deck_id": deck["id"], "page": 1}))["ok"]
    pen = {"tool": "pen", "color": "#102030", "width": 20, "done": True}
    assert (await host.call("board:draw", {"stroke": "before-1", "points": [1, 2, 3, 4], **pen}))[
        "ok"
    ]
    rid = (await host.call("recording:start"))["recording_id"]
    assert (await host.call("slides:show", {"deck_id": deck["id"], "page": 2}))["ok"]
    assert (await host.call("board:draw", {"stroke": "during-1", "points": [5, 6], **pen}))["ok"]
    assert (await host.call("slides:show", {"deck_id": deck["id"], "page": 2, "zoom": 200}))["ok"]
    assert (await host.call("recording:stop"))["ok"]
    body = await published(server.url, rid)
    manifest = body["manifest"]
    files = manifest["files"]
    assert manifest["slides"] == "slides.json"
    shown = [f"slide-{deck['id']}-0001.webp", f"slide-{deck['id']}-0002.webp"]
    assert manifest["slide_images"] == shown
    # The page titles are chapters (one per page turn, not per zoom).
    titles = [c["title"] for c in manifest["chapters"]]
    assert titles == ["Limits", "Derivatives"] or titles == ["Start", "Limits", "Derivatives"]
    status, slides = await get(server.url + files["slides.json"])
    assert status == 200
    pages = [(p["page"], p["title"], p["text"].strip()) for p in slides["pages"]]
    assert pages == [(1, "Limits", "Limits"), (2, "Derivatives", "Derivatives")]
    status, image = await get(server.url + files[shown[1]])
    assert status == 200 and image[:4] == b"RIFF"
    # The timeline starts with the board as it stood, then what happened.
    status, timeline = await get(server.url + files["timeline.json"])
    names = [
        (e["name"], e["t"]) for e in timeline["events"] if e["name"].startswith(("slides", "board"))
    ]
    assert [n for n, _ in names] == ["slides:state", "slides:view", "board:ink", "slides:view"]
    start = next(e for e in timeline["events"] if e["name"] == "slides:state")
    assert start["t"] == 0 and start["data"]["view"]["page"] == 1
    (ink,) = start["data"]["ink"]
    assert [s["stroke_id"] for s in ink["strokes"]] == ["before-1"]
    assert "user_id" not in ink["strokes"][0]
