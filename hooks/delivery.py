"""The delivery loop: each due message to each endpoint, retried with backoff until settled.

One loop delivers for the whole outbox: on a single node, that node's; in a
cluster, the node holding the delivery lease (the others append messages
and wait to take over). Tries run in tasks of their own, at most
`MAX_TRIES_AT_ONCE` in all and `PER_ENDPOINT` per endpoint, each bounded by
the sender's timeout, so a receiver that hangs holds a few slots for a few
seconds and never the loop.

At least once: a try's outcome is recorded after the answer, so a crash (or
a lost lease) between a receiver's 2xx and that record makes the next
deliverer send the message again, with the same id. Nothing recorded as
delivered is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiohttp
import redis.asyncio as redis

from hooks import sender
from hooks.outbox import Outbox
from hooks.payloads import Message
from hooks.records import RETRY_DELAYS_S, Attempted, Delivery, Entry, Outcome, retry_at
from hooks.sender import Endpoint, Result
from journal import Fence, JournalFenced
from signaling.cluster import LeaseOwnership, Moved

log = logging.getLogger(__name__)

MAX_TRIES_AT_ONCE = 16
PER_ENDPOINT = 4
POLL_S = 1.0
"""How often a cluster's deliverer looks for messages other nodes enqueued, and others for the
lease."""
RECORD_RETRY_S = 2.0
CLOSE_GRACE_S = 2.0
"""How long shutting down waits for tries under way; those cut short are sent again later."""


Send = Callable[[aiohttp.ClientSession, Endpoint, Message], Awaitable[Result]]
"""One try of one message to one endpoint (webhooks: `sender.poster`)."""


class Lease(Protocol):
    async def acquire(self) -> bool:
        """Hold the right to deliver (take it if free); False while another node holds it."""

    def fence(self) -> Fence | None: ...

    @property
    def shared(self) -> bool:
        """Whether other nodes append to the outbox (a cluster)."""

    async def close(self) -> None: ...


class SoleNode:
    """One process: it always delivers."""

    shared = False

    async def acquire(self) -> bool:
        return True

    def fence(self) -> Fence | None:
        return None

    async def close(self) -> None:
        return None


class Deliverer:
    def __init__(
        self,
        outbox: Outbox,
        endpoints: list[Endpoint],
        send: Send,
        lease: Lease,
        rng: random.Random | None = None,
        delays: tuple[float, ...] = RETRY_DELAYS_S,
        label: str = "webhooks",
        announce: bool = True,
    ) -> None:
        self.label = label
        """What the logs call these deliveries."""
        self.announce = announce
        """Log where this node delivers to when it takes over."""
        self.outbox = outbox
        self.delays = delays
        self.endpoints = {ep.id: ep for ep in endpoints}
        self.send = send
        self.lease = lease
        self.rng = rng or random.Random()
        self._heap: list[tuple[int, int, str, str]] = []
        self._pushed = 0
        self._in_flight: dict[str, int] = {}
        """Tries running per endpoint id."""
        self._busy: set[tuple[str, str]] = set()
        """(message id, endpoint id) being tried, or whose outcome waits to be recorded."""
        self._blocked: list[Delivery] = []
        """Due, but waiting for a free slot."""
        self._unrecorded: list[Attempted] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._loop: asyncio.Task[None] | None = None
        outbox.on_change = self.schedule

    def schedule(self, delivery: Delivery) -> None:
        """Note a delivery that became due (later) or changed; settled ones are left alone."""
        if delivery.settled:
            return
        heapq.heappush(self._heap, (delivery.due, self._pushed, delivery.msg_id, delivery.endpoint))
        self._pushed += 1
        self._wake.set()

    def start(self) -> None:
        self._http = sender.session()
        self._loop = asyncio.create_task(self._run())

    async def _run(self) -> None:
        holding, looked = False, 0.0
        while True:
            try:
                if not holding:
                    holding = await self._take_over()
                elif time.monotonic() - looked >= POLL_S:
                    looked = time.monotonic()
                    holding = await self._look_around()
                if holding:
                    await self._record_unrecorded()
                    self._dispatch()
            except Exception:
                log.exception("%s: the delivery loop failed a round; going on", self.label)
            await self._sleep(holding)

    async def _look_around(self) -> bool:
        """Once a second: still holding the lease? Other nodes' messages (a cluster)."""
        if not self.lease.shared:
            self.outbox.forget_old()
            return True
        if not await self.lease.acquire():
            return False
        await self.outbox.sync()
        return True

    async def _take_over(self) -> bool:
        if not await self.lease.acquire():
            return False
        await self.outbox.sync()  # everything the last deliverer recorded
        for _entry, delivery in self.outbox.state.pending():
            self.schedule(delivery)
        log.log(
            logging.INFO if self.announce else logging.DEBUG,
            "%s: delivering to %s",
            self.label,
            ", ".join(ep.shown for ep in self.endpoints.values()),
        )
        return True

    async def _sleep(self, holding: bool) -> None:
        wait = POLL_S if self.lease.shared or not holding else None
        if holding and self._heap:
            due_in = (self._heap[0][0] - self.outbox.clock()) / 1000
            wait = max(0.0, due_in) if wait is None else min(wait, max(0.0, due_in))
        if self._unrecorded:
            wait = RECORD_RETRY_S if wait is None else min(wait, RECORD_RETRY_S)
        self._wake.clear()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancel that
        # arrives as the wake-up does, and the loop would outlive the server's shutdown.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._wake.wait()

    def _dispatch(self) -> None:
        now = self.outbox.clock()
        while self._heap and self._heap[0][0] <= now:
            _due, _n, msg_id, eid = heapq.heappop(self._heap)
            entry = self.outbox.state.entries.get(msg_id)
            delivery = None if entry is None else entry.deliveries.get(eid)
            if entry is None or delivery is None or delivery.settled or delivery.due > now:
                continue  # settled, forgotten, or due later (pushed again for then)
            if (msg_id, eid) in self._busy:
                continue
            if self._in_flight.get(eid, 0) >= PER_ENDPOINT or len(self._tasks) >= MAX_TRIES_AT_ONCE:
                self._blocked.append(delivery)
                continue
            self._start(entry, delivery)

    def _start(self, entry: Entry, delivery: Delivery) -> None:
        key = (entry.message.id, delivery.endpoint)
        self._busy.add(key)
        self._in_flight[delivery.endpoint] = self._in_flight.get(delivery.endpoint, 0) + 1
        task = asyncio.create_task(self._try(entry, delivery))
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(t, key))

    def _finished(self, task: asyncio.Task[None], key: tuple[str, str]) -> None:
        self._tasks.discard(task)
        eid = key[1]
        self._in_flight[eid] -= 1
        if not any(a.id == key[0] and a.endpoint == eid for a in self._unrecorded):
            self._busy.discard(key)
        # A slot is free again: what waited for one is due now (or waits again).
        blocked, self._blocked = self._blocked, []
        for delivery in blocked:
            self.schedule(delivery)

    async def _try(self, entry: Entry, delivery: Delivery) -> None:
        msg, attempt, now = entry.message, delivery.tries + 1, self.outbox.clock()
        to = self.endpoints.get(delivery.endpoint)
        if to is None:
            gone = "the endpoint is no longer configured"
            record = Attempted(msg.id, delivery.endpoint, attempt, now, "dropped", error=gone)
        else:
            assert self._http is not None
            result = await self.send(self._http, to, msg)
            record = self._outcome(msg.id, delivery.endpoint, attempt, result)
            if not result.ok:
                log.info(
                    "%s: %s to %s, try %d: %s", self.label, msg.id, to.shown, attempt, result.error
                )
        await self._record(record)

    def _outcome(self, msg_id: str, eid: str, attempt: int, result: Result) -> Attempted:
        now = self.outbox.clock()
        if result.ok:
            return Attempted(msg_id, eid, attempt, now, "delivered", result.status)
        if result.dropped:
            return Attempted(msg_id, eid, attempt, now, "dropped", error=result.error)
        next_at = retry_at(attempt, now, self.rng, self.delays)
        outcome: Outcome = "retry" if next_at is not None else "gave_up"
        return Attempted(msg_id, eid, attempt, now, outcome, result.status, result.error, next_at)

    async def _record(self, record: Attempted) -> None:
        try:
            await self.outbox.append([record], self.lease.fence())
        except JournalFenced:
            log.warning(
                "%s: lost the delivery lease; the next deliverer retries %s", self.label, record.id
            )
        except Exception as exc:
            # Kept, and written again before anything else: a 2xx never to be sent again.
            log.warning("%s: cannot record a try of %s yet: %s", self.label, record.id, exc)
            self._unrecorded.append(record)

    async def _record_unrecorded(self) -> None:
        waiting, self._unrecorded = self._unrecorded, []
        for record in waiting:
            await self._record(record)
            if record not in self._unrecorded:
                self._busy.discard((record.id, record.endpoint))

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        # Tries under way get a moment to finish and be recorded; the others are
        # cancelled unrecorded, so they are sent again (same id) after the restart.
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=CLOSE_GRACE_S)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        await self.lease.close()


class RedisLease:
    """A cluster: the node holding `{prefix}:lease:delivery` delivers."""

    shared = True
    NAME = "delivery"

    def __init__(self, client: redis.Redis, node_url: str, ttl_ms: int, prefix: str) -> None:
        self._prefix = prefix
        self._leases = LeaseOwnership(client, node_url, self._lost, ttl_ms, prefix)
        self._started = False

    async def acquire(self) -> bool:
        if not self._started:
            self._leases.start()
            self._started = True
        if self._leases.serving(self.NAME):
            return True
        try:
            await self._leases.claim(self.NAME)
        except (Moved, ConnectionError):
            return False
        return True

    def fence(self) -> Fence | None:
        return self._leases.fence(self.NAME)

    async def _lost(self, name: str) -> None:
        log.warning("%s: the delivery lease was lost; another node delivers", self._prefix)

    async def close(self) -> None:
        await self._leases.close()
