"""Short-lived values: logins under way (state, nonce) and deep-linking choices.

A login started on one node may come back to another (a cluster behind a
load balancer), so with Redis they are Redis keys with a time to live, and
`take` is one GETDEL: a state, and the nonce it holds, can be taken once,
by one node. On one server they are kept in memory, bounded: a restart
forgets logins under way (those people launch again), and never lets one
be used twice.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as redis

from lti.store import StoreError, as_bytes

MAX_HELD = 20_000
"""Values kept in memory at most; the oldest go first (abandoned logins)."""


class Ephemeral(Protocol):
    async def put(self, key: str, value: bytes, ttl_s: int) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def take(self, key: str) -> bytes | None:
        """The value, removed so that nobody gets it again."""

    async def close(self) -> None: ...


class MemoryEphemeral:
    def __init__(self, clock: Callable[[], float] = time.monotonic, limit: int = MAX_HELD) -> None:
        self.clock = clock
        self.limit = limit
        self._held: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def put(self, key: str, value: bytes, ttl_s: int) -> None:
        self._held.pop(key, None)
        self._held[key] = (self.clock() + ttl_s, value)
        while len(self._held) > self.limit:
            self._held.popitem(last=False)

    async def get(self, key: str) -> bytes | None:
        held = self._held.get(key)
        if held is None or held[0] < self.clock():
            return None
        return held[1]

    async def take(self, key: str) -> bytes | None:
        value = await self.get(key)
        self._held.pop(key, None)
        return value

    async def close(self) -> None:
        self._held.clear()


class RedisEphemeral:
    def __init__(self, client: redis.Redis, prefix: str = "classroom:lti:eph") -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str) -> RedisEphemeral:
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5))

    async def put(self, key: str, value: bytes, ttl_s: int) -> None:
        try:
            await self.client.set(f"{self.prefix}:{key}", value, ex=ttl_s)
        except redis.RedisError as exc:
            raise StoreError(f"Redis: {exc}") from exc

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self.client.get(f"{self.prefix}:{key}")
        except redis.RedisError as exc:
            raise StoreError(f"Redis: {exc}") from exc
        return as_bytes(value)

    async def take(self, key: str) -> bytes | None:
        try:
            value = await self.client.getdel(f"{self.prefix}:{key}")
        except redis.RedisError as exc:
            raise StoreError(f"Redis: {exc}") from exc
        return as_bytes(value)

    async def close(self) -> None:
        await self.client.aclose()
