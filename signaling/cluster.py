"""Which node hosts a class: a lease per class in Redis (cluster mode), or always us.

A class lives on one node. In cluster mode that node holds the key
`{prefix}:lease:{class_id}`, whose value, the lease token, is the node's URL
and an epoch that grows with every claim (`{prefix}:epoch:{class_id}`). The
token is the fence of the class's journal appends: Redis refuses an append
made under a token the key no longer holds, in the same script as the write.

A node stops serving a class a margin before its lease can expire, by its own
monotonic clock and on a timer of its own: a node that is paused, or whose
Redis calls hang, has stopped taking commands before another node can take
the class. Renewals run every third of the term.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from journal import Fence
from signaling.tasks import TaskSet

log = logging.getLogger(__name__)

OnLost = Callable[[str], Awaitable[None]]

# Take a free lease, or adopt one this node's URL holds (left by a restart of
# this node), always with a new epoch so earlier writers of ours are fenced.
CLAIM = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, #ARGV[1] + 1) ~= ARGV[1] .. ' ' then
  return {0, held}
end
local token = ARGV[1] .. ' ' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return {1, token}
"""
# Renew only a lease we hold; re-take one that vanished (a Redis that lost
# data) since nobody else can have it while our term runs. Should another
# node have written since, our next append no longer follows the stream's
# last seq and is refused.
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

    def fence(self, class_id: str) -> Fence | None:
        """What the class's journal appends must be made under, if anything."""

    def serving(self, class_id: str) -> bool:
        """Whether this node may still take commands for the class, by its own clock."""

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

    def fence(self, class_id: str) -> Fence | None:
        return None

    def serving(self, class_id: str) -> bool:
        return True

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
        self.margin = min(1.0, ttl_ms / 5000)
        """Seconds before the lease's end at which this node stops serving the class."""
        self._tokens: dict[str, str] = {}
        self._terms: dict[str, float] = {}
        """class id -> monotonic time our lease is sure to last until."""
        self._deadlines: dict[str, asyncio.TimerHandle] = {}
        self._task: asyncio.Task[None] | None = None
        self._losing = TaskSet()

    def start(self) -> None:
        self._task = asyncio.create_task(self._renew_forever())

    def _key(self, class_id: str) -> str:
        return f"{self.prefix}:lease:{class_id}"

    async def claim(self, class_id: str) -> None:
        started = time.monotonic()
        epoch_key = f"{self.prefix}:epoch:{class_id}"
        try:
            taken, value = await self.client.eval(
                CLAIM, 2, self._key(class_id), epoch_key, self.node_url, self.ttl_ms
            )
        except RedisError as exc:
            raise ConnectionError(f"cluster state unavailable: {exc}") from exc
        token = value.decode() if isinstance(value, bytes) else str(value)
        if not taken:
            raise Moved(_url(token))
        self._tokens[class_id] = token
        self._extend(class_id, started)

    def fence(self, class_id: str) -> Fence | None:
        token = self._tokens.get(class_id)
        # A class we do not hold gets a token no lease can hold: appends are refused.
        return Fence(self._key(class_id), token or "")

    def serving(self, class_id: str) -> bool:
        return time.monotonic() < self._terms.get(class_id, 0) - self.margin

    async def owner(self, class_id: str) -> str | None:
        holder = await self.client.get(self._key(class_id))
        return _url(holder.decode()) if isinstance(holder, bytes) else None

    async def release(self, class_id: str) -> None:
        token = self._forget(class_id)
        if token is None:
            return
        try:
            await self.client.eval(RELEASE, 1, self._key(class_id), token)
        except RedisError as exc:
            log.warning("could not release the lease of %s: %s", class_id, exc)

    def held(self) -> int:
        return len(self._terms)

    def _extend(self, class_id: str, started: float) -> None:
        """Our term now runs from `started`; stop serving a margin before it ends."""
        until = started + self.ttl_ms / 1000
        self._terms[class_id] = until
        old = self._deadlines.pop(class_id, None)
        if old is not None:
            old.cancel()
        delay = max(0.0, until - self.margin - time.monotonic())
        loop = asyncio.get_running_loop()
        self._deadlines[class_id] = loop.call_later(delay, self._expire, class_id)

    def _expire(self, class_id: str) -> None:
        self._losing.spawn(self._lose(class_id, "its lease could not be renewed in time"))

    def _forget(self, class_id: str) -> str | None:
        self._terms.pop(class_id, None)
        deadline = self._deadlines.pop(class_id, None)
        if deadline is not None:
            deadline.cancel()
        return self._tokens.pop(class_id, None)

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
            await asyncio.sleep(backoff)

    async def _renew_all(self) -> None:
        await self.client.ping()  # health is Redis answering, with or without leases
        for class_id, token in list(self._tokens.items()):
            started = time.monotonic()
            if not self.serving(class_id):
                continue  # our term ran out: its deadline lets it go
            kept = await self.client.eval(RENEW, 1, self._key(class_id), token, self.ttl_ms)
            if self._tokens.get(class_id) != token:
                continue  # lost or claimed afresh while we waited
            if kept:
                self._extend(class_id, started)
            else:
                await self._lose(class_id, "another node holds its lease")

    async def _lose(self, class_id: str, why: str) -> None:
        if self._forget(class_id) is None:
            return
        log.error("no longer hosting class %s: %s", class_id, why)
        await self.on_lost(class_id)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for class_id in list(self._tokens):
            await self.release(class_id)
        await self._losing.wait()
        await self.client.aclose()


def _url(token: str) -> str:
    """The node URL in a lease token (`{url} {epoch}`)."""
    return token.split(" ", 1)[0]
