"""Fixtures: a real server on a loopback port, and real Socket.IO peers joined to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from server.app import JournalLayer, create_app
from signaling.auth import mint
from tests.peer import Peer
from web.settings import Settings, Wire

SECRET = "test-secret-with-enough-length-for-hs256"
ADMIN = "test-admin-key"


class Server:
    """A running server and the helpers tests use to talk to it."""

    def __init__(self, settings: Settings, journal_layer: JournalLayer | None = None) -> None:
        self.settings = settings
        self.app = create_app(settings, journal_layer)
        self.runner = web.AppRunner(self.app, shutdown_timeout=5)
        self.url = ""
        self.peers: list[Peer] = []

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.settings.port)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        for peer in self.peers:
            await peer.close()
        await self.runner.cleanup()

    async def http(self, method: str, path: str, json: Any = None, admin: bool = True) -> Any:
        headers = {"Authorization": f"Bearer {ADMIN}"} if admin else {}
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.url + path, json=json, headers=headers) as resp,
        ):
            return resp.status, await resp.json()

    async def create_class(self, title: str = "Algebra", **extra: Any) -> str:
        status, body = await self.http("POST", "/api/classes", {"title": title, **extra})
        assert status == 201, body
        return str(body["id"])

    def token(self, class_id: str, user: str, role: str = "participant", **kw: Any) -> str:
        return mint(SECRET, class_id, user, kw.get("name", user.title()), role)  # type: ignore[arg-type]

    async def join(
        self, class_id: str, user: str, role: str = "participant", name: str | None = None
    ) -> Peer:
        peer = self.peer(self.token(class_id, user, role, name=name or user.title()))
        await peer.connect()
        return peer

    def peer(self, token: str, transports: tuple[str, ...] = ("websocket",)) -> Peer:
        peer = Peer(self.url, token, self.settings.wire, transports)
        self.peers.append(peer)
        return peer


def settings_for(tmp_path: Path, wire: Wire = "msgpack", **extra: Any) -> Settings:
    """A test server's settings. Captions are off unless a test asks for them: transcribing
    every published recording would only slow the tests that are not about captions."""
    extra.setdefault("captions", False)
    return Settings(port=0, data_dir=tmp_path, secret=SECRET, admin_key=ADMIN, wire=wire, **extra)


@asynccontextmanager
async def running(
    settings: Settings, journal_layer: JournalLayer | None = None
) -> AsyncIterator[Server]:
    srv = Server(settings, journal_layer)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture(params=["msgpack", "json"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    async with running(settings_for(tmp_path, request.param)) as srv:
        yield srv


@pytest.fixture
async def msgpack_server(tmp_path: Path) -> AsyncIterator[Server]:
    async with running(settings_for(tmp_path)) as srv:
        yield srv


@pytest.fixture
async def media_server(tmp_path: Path) -> AsyncIterator[Server]:
    """A server whose SFU gathers and announces 127.0.0.1 only."""
    async with running(
        settings_for(tmp_path, media_host=("127.0.0.1",), media_allow_private=True)
    ) as srv:
        yield srv
