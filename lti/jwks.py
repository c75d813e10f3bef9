"""The platforms' public keys: fetched over HTTP, cached, fetched again for a key not yet seen.

A platform rotates its keys by publishing the new one and signing with it:
an id_token whose `kid` the cached set lacks makes the set be fetched once
more, right away, and the launch is refused only if the fresh set lacks it
too. So that unknown `kid`s sent on purpose cannot make us hammer a
platform, its set is fetched again for unknown keys at most
`REFETCHES_PER_MINUTE` times a minute, and concurrent launches wait for one
fetch. Only RSA
keys are taken, and only for RS256.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
from jwt import PyJWK
from jwt.exceptions import PyJWKError

MAX_BYTES = 256 * 1024
TIMEOUT_S = 10.0
FRESH_S = 3600.0
"""How long a fetched set is used before it is fetched again."""
REFETCHES_PER_MINUTE = 3


class NoKey(Exception):
    """No usable key: the set cannot be fetched, or lacks the `kid`."""


@dataclass
class _Cached:
    keys: dict[str, Any] = field(default_factory=dict)
    """kid -> the RSA public key."""
    fetched_at: float | None = None
    fetching: asyncio.Task[dict[str, Any]] | None = None
    refetched: list[float] = field(default_factory=list)
    """When the set was fetched again for an unknown key, in the last minute."""


class PlatformKeys:
    def __init__(
        self, http: Callable[[], aiohttp.ClientSession], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.http = http
        self.clock = clock
        self.fetches = 0
        """Key sets fetched (for metrics and tests)."""
        self._sets: dict[str, _Cached] = {}

    async def key(self, jwks_url: str, kid: str) -> Any:
        """The public key `kid` of the set at `jwks_url`; NoKey when there is none."""
        cached = self._sets.setdefault(jwks_url, _Cached())
        now = self.clock()
        stale = cached.fetched_at is None or now - cached.fetched_at > FRESH_S
        if stale:
            await self._fetch(jwks_url, cached)
        elif kid not in cached.keys:
            cached.refetched = [t for t in cached.refetched if now - t < 60]
            if len(cached.refetched) < REFETCHES_PER_MINUTE:
                cached.refetched.append(now)
                await self._fetch(jwks_url, cached)
        found = cached.keys.get(kid)
        if found is None:
            raise NoKey(f"the platform's key set has no key {kid!r}")
        return found

    async def _fetch(self, url: str, cached: _Cached) -> None:
        if cached.fetching is None or cached.fetching.done():
            cached.fetching = asyncio.create_task(self._download(url))
        try:
            cached.keys = await asyncio.shield(cached.fetching)
        except NoKey:
            if cached.fetched_at is None:
                raise
            return  # keep what we had; it may still hold the key
        cached.fetched_at = self.clock()

    async def _download(self, url: str) -> dict[str, Any]:
        self.fetches += 1
        try:
            async with self.http().get(
                url, timeout=aiohttp.ClientTimeout(total=TIMEOUT_S), allow_redirects=False
            ) as resp:
                if resp.status != 200:
                    raise NoKey(f"the platform's key set answered HTTP {resp.status}")
                body = await resp.content.read(MAX_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise NoKey(f"the platform's key set cannot be fetched: {exc}") from exc
        if len(body) > MAX_BYTES:
            raise NoKey("the platform's key set is too large")
        return rsa_keys(body)


def rsa_keys(body: bytes) -> dict[str, Any]:
    """The RSA keys of a JWK set, by kid (others are skipped)."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise NoKey("the platform's key set is not JSON") from exc
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list):
        raise NoKey("the platform's key set has no keys")
    out: dict[str, Any] = {}
    for jwk in keys:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            out[kid] = PyJWK(jwk, "RS256").key
        except PyJWKError:
            continue
    return out
