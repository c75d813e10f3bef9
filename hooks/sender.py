"""Signing and posting one message to one endpoint, bounded in time, never following redirects.

Signatures follow Standard Webhooks (the `standardwebhooks` package signs):
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
keyed with the secret's bytes (`whsec_<base64>`). Each try is signed anew
with its own timestamp, so a receiver's replay window holds for retries,
while its id stays that of the message.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from urllib.parse import urlsplit

import aiohttp
from standardwebhooks import Webhook

from hooks.payloads import Message

TIMEOUT_S = 10.0
"""A try that has no answer by then failed: a hanging receiver holds one slot that long."""
CONNECT_TIMEOUT_S = 5.0
READ_AT_MOST = 1024
"""Bytes of an answer read (and dropped): a receiver cannot make us read a large body."""
SECRET_PREFIX = "whsec_"


class ConfigError(ValueError):
    """A webhook URL or secret that cannot be used."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signer(secret: str) -> Webhook:
    """The signer of a `whsec_<base64>` secret of 24 to 64 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        raise ConfigError(
            "the webhook secret must look like whsec_<base64> (classroom webhook secret)"
        )
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise ConfigError("the webhook secret is not base64 after whsec_") from exc
    if not 24 <= len(key) <= 64:
        raise ConfigError("the webhook secret must hold 24 to 64 bytes")
    return Webhook(secret)


@dataclass(frozen=True)
class Endpoint:
    url: str

    @property
    def id(self) -> str:
        """What records name it by: URLs may carry credentials, the outbox does not keep them."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]

    @property
    def shown(self) -> str:
        """The URL without credentials or query, for logs and the delivery log."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"


def endpoint(url: str) -> Endpoint:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"a webhook URL must be http(s)://host/...: {url!r}")
    return Endpoint(url)


@dataclass(frozen=True)
class Result:
    status: int | None
    error: str = ""
    dropped: bool = False
    """Not sent, and never to be (what it said is out of date): settled as `dropped`."""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def headers(sign: Webhook, msg: Message, now: datetime) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": f"classroom-server/{version('classroom-server')}",
        "webhook-id": msg.id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign.sign(msg.id, now, msg.body.decode()),
    }


def session() -> aiohttp.ClientSession:
    # No proxies from the environment: the operator names each URL, and that is where it goes.
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S, sock_connect=CONNECT_TIMEOUT_S)
    return aiohttp.ClientSession(timeout=timeout, trust_env=False)


def poster(
    sign: Webhook,
) -> Callable[[aiohttp.ClientSession, Endpoint, Message], Awaitable[Result]]:
    """The deliverer's way to try a message: signed with `sign`, posted."""

    async def send(http: aiohttp.ClientSession, to: Endpoint, msg: Message) -> Result:
        return await post(http, sign, to, msg)

    return send


async def post(http: aiohttp.ClientSession, sign: Webhook, to: Endpoint, msg: Message) -> Result:
    """One try. Any 2xx is a delivery; redirects are refused, not followed."""
    now = datetime.now(UTC)
    try:
        async with http.post(
            to.url, data=msg.body, headers=headers(sign, msg, now), allow_redirects=False
        ) as resp:
            await resp.content.read(READ_AT_MOST)
            if 300 <= resp.status < 400:
                return Result(resp.status, "redirects are not followed: configure the final URL")
            return Result(resp.status, "" if resp.status < 300 else f"HTTP {resp.status}")
    except TimeoutError:
        return Result(None, f"no answer within {TIMEOUT_S:g} s")
    except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
        return Result(None, f"{type(exc).__name__}: {exc}"[:300])
