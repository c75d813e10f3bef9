"""A real webhook receiver on loopback: it can fail the first tries, go down, or hang.

It checks every signature twice: with the Standard Webhooks reference
library, and by the spec's own recipe (HMAC-SHA256 of "{id}.{timestamp}.{body}"
keyed with the secret's bytes).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook

from tests.loopback import serve

SECRET = "whsec_" + base64.b64encode(b"a test signing key of 32 bytes!!").decode()


@dataclass
class Delivery:
    id: str
    body: dict[str, Any]
    answered: int


def spec_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


@dataclass
class Receiver:
    fail_first: int = 0
    """Answer 500 to the first tries of each message."""
    hang: bool = False
    """Never answer."""
    secret: str = SECRET
    tries: list[Delivery] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks?key=not-in-logs"

    def accepted(self) -> Counter[str]:
        """2xx answers per message id."""
        return Counter(d.id for d in self.tries if d.answered == 200)

    def types(self) -> dict[str, str]:
        return {d.id: d.body["type"] for d in self.tries if d.answered == 200}

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._receive)
        self._runner, self.port = await serve(app, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        Webhook(self.secret).verify(body, headers)  # raises on a bad signature
        msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
        assert headers["webhook-signature"] == spec_signature(self.secret, msg_id, stamp, body)
        payload = json.loads(body)
        assert payload["id"] == msg_id and set(payload) == {"id", "type", "created_at", "data"}
        if self.hang:
            await asyncio.Event().wait()
        earlier = sum(1 for d in self.tries if d.id == msg_id)
        status = 500 if earlier < self.fail_first else 200
        async with self.arrived:
            self.tries.append(Delivery(msg_id, payload, status))
            self.arrived.notify_all()
        return web.json_response({"ok": status == 200}, status=status)

    async def wait_types(self, *types: str) -> None:
        """Wait until a message of each type was accepted."""
        await self.wait_until(lambda: set(types) <= set(self.types().values()))

    async def wait_until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(30), self.arrived:
            await self.arrived.wait_for(done)
