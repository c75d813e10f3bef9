"""Which node hosts a class: a lease per class in Redis (cluster mode), or always us.

A class lives on one node. In cluster mode that node holds the key
`{prefix}:lease:{class_id}` (value: the node's URL), taken with SET NX PX and
renewed well before it expires. A node that cannot renew a lease in time (it
lost Redis, or another node holds the key) stops serving that class at once
rather than risk two nodes writing one class; the journal's strictly
increasing stream ids fence any write that slips through.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

OnLost = Callable[[str], Awaitable[None]]

# Renew only a lease we hold; re-take one that vanished (a Redis restart
# without persistence) since nobody else can have it while our term runs.
RENEW = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not v then return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0 end
return 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Moved(Exception):
    """The class is hosted by another node, reachable at `url`."""

    def __init__(self, url: str) -> None:
        super().__init__(f"the class is hosted at {url}")
        self.url = url


class Ownership(Protocol):
    healthy: bool

    async def claim(self, class_id: str) -> None:
        """Make this node the class's host, or raise Moved."""

    async def owner(self, class_id: str) -> str | None:
        """The URL of the node hosting the class now, if any."""

    async def release(self, class_id: str) -> None: ...

    def held(self) -> int: ...

    async def close(self) -> None: ...


class LocalOwnership:
    """One process, no Redis: every class is ours."""

    healthy = True

    def __init__(self, node_url: str) -> None:
        self.node_url = node_url
        self._classes: set[str] = set()

    async def claim(self, class_id: str) -> None:
        self._classes.add(class_id)

    async def owner(self, class_id: str) -> str | None:
        return self.node_url if class_id in self._classes else None

    async def release(self, class_id: str) -> None:
        self._classes.discard(class_id)

    def held(self) -> int:
        return len(self._classes)

    async def close(self) -> None:
        return None


class LeaseOwnership:
    """Leases in Redis, renewed by a background task every third of their term."""

    def __init__(
        self,
        client: redis.Redis,
        node_url: str,
        on_lost: OnLost,
        ttl_ms: int = 10_000,
        prefix: str = "classroom",
    ) -> None:
        self.client = client
        self.node_url = node_url
        self.on_lost = on_lost
        self.ttl_ms = ttl_ms
        self.prefix = prefix
        self.healthy = True
        self._terms: dict[str, float] = {}
        """class id -> monotonic time our lease is sure to last until."""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._renew_forever())

    def _key(self, class_id: str) -> str:
        return f"{self.prefix}:lease:{class_id}"

    async def claim(self, class_id: str) -> None:
        started = time.monotonic()
        try:
            taken = await self.client.set(
                self._key(class_id), self.node_url, nx=True, px=self.ttl_ms
            )
            holder = None if taken else await self.client.get(self._key(class_id))
        except RedisError as exc:
            raise ConnectionError(f"cluster state unavailable: {exc}") from exc
        if taken or holder == self.node_url.encode():
            self._terms[class_id] = started + self.ttl_ms / 1000
            return
        if holder is None:  # expired between SET and GET: try once more
            return await self.claim(class_id)
        raise Moved(holder.decode() if isinstance(holder, bytes) else str(holder))

    async def owner(self, class_id: str) -> str | None:
        holder = await self.client.get(self._key(class_id))
        return holder.decode() if isinstance(holder, bytes) else None

    async def release(self, class_id: str) -> None:
        self._terms.pop(class_id, None)
        try:
            await self.client.eval(RELEASE, 1, self._key(class_id), self.node_url)
        except RedisError as exc:
            log.warning("could not release the lease of %s: %s", class_id, exc)

    def held(self) -> int:
        return len(self._terms)

    async def _renew_forever(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._renew_all()
                if not self.healthy:
                    log.info("Redis is reachable again; leases re-asserted")
                self.healthy, backoff = True, self.ttl_ms / 3000
            except RedisError as exc:
                if self.healthy:
                    log.warning("Redis unreachable, serving degraded: %s", exc)
                self.healthy, backoff = False, min(max(backoff * 2, 0.1), self.ttl_ms / 6000)
            await self._drop_expired()
            await asyncio.sleep(backoff)

    async def _renew_all(self) -> None:
        await self.client.ping()  # health is Redis answering, with or without leases
        for class_id in list(self._terms):
            started = time.monotonic()
            if started >= self._terms.get(class_id, 0):
                continue  # our term ran out: _drop_expired lets it go
            kept = await self.client.eval(RENEW, 1, self._key(class_id), self.node_url, self.ttl_ms)
            if kept and class_id in self._terms:
                self._terms[class_id] = started + self.ttl_ms / 1000
            elif not kept:
                await self._lose(class_id, "another node holds its lease")

    async def _drop_expired(self) -> None:
        # Stop a little before the key can expire in Redis, so two nodes never
        # both believe they host the class.
        margin = min(1.0, self.ttl_ms / 5000)
        now = time.monotonic()
        for class_id, until in list(self._terms.items()):
            if now >= until - margin:
                await self._lose(class_id, "its lease could not be renewed in time")

    async def _lose(self, class_id: str, why: str) -> None:
        if self._terms.pop(class_id, None) is None:
            return
        log.error("no longer hosting class %s: %s", class_id, why)
        await self.on_lost(class_id)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for class_id in list(self._terms):
            await self.release(class_id)
        await self.client.aclose()
