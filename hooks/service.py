"""Webhooks on one node: the outbox, the class feeds that fill it, and the deliverer."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
import redis.asyncio as redis

from hooks.delivery import Deliverer, Lease, RedisLease, SoleNode
from hooks.feeds import Feeds
from hooks.outbox import Outbox
from hooks.payloads import Message, iso, recording_published
from hooks.records import RETRY_DELAYS_S, Delivery, Enqueued, Entry, Outcome
from hooks.sender import Endpoint, endpoint, poster, signer
from journal import Journal
from journal.files import FileJournal
from journal.streams import RedisJournal
from signaling.replay_runtime import ReplayRuntime
from signaling.runtime import ClassRuntime, now_ms
from signaling.tasks import TaskSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HooksConfig:
    """What the webhooks need of the server's settings."""

    urls: tuple[str, ...]
    secret: str
    data_dir: Path
    """Where the outbox's files are, without Redis."""
    redis_url: str = ""
    node_url: str = ""
    lease_ttl_ms: int = 10_000
    retry_delays_s: tuple[float, ...] = ()


class Webhooks:
    def __init__(
        self,
        settings: HooksConfig,
        class_journal: Journal,
        clock: Callable[[], int] = now_ms,
        rng: random.Random | None = None,
    ) -> None:
        self.endpoints: list[Endpoint] = [endpoint(url) for url in settings.urls]
        sign = signer(settings.secret)
        shared = bool(settings.redis_url)
        self.journal = _outbox_journal(settings)
        self.outbox = Outbox(self.journal, clock)
        self.feeds = Feeds(
            class_journal, self.outbox, [ep.id for ep in self.endpoints], clock, shared
        )
        delays = settings.retry_delays_s or RETRY_DELAYS_S
        lease = _lease(settings)
        self.deliverer = Deliverer(self.outbox, self.endpoints, poster(sign), lease, rng, delays)
        self.clock = clock
        self._tasks = TaskSet()

    async def start(self) -> None:
        """Read the outbox's window, then deliver what is due."""
        await self.outbox.sync()
        self.deliverer.start()

    def attach(self, runtime: ClassRuntime) -> None:
        """A registry hook: the class's events reach the outbox through a listener."""
        self.feeds.attach(runtime)

    def attach_replay(self, runtime: ReplayRuntime) -> None:
        """A replay host's hook: each question asked in the recording's stream, through a
        follower like a class's (a crash between the two writes is caught up on load)."""
        self.feeds.attach_replay(runtime, runtime.journal)

    async def enqueue(self, messages: list[Message]) -> None:
        """Hand messages to the outbox (those it holds already are left out).

        The way in for messages that are not a class's, such as a replay's
        `replay.question_asked`.
        """
        new = [m for m in messages if not self.outbox.known(m.id)]
        if new:
            ids = [ep.id for ep in self.endpoints]
            await self.outbox.append([Enqueued(m, ids) for m in new])

    def published(self, meta: dict[str, Any]) -> None:
        """A recording's package was built: tell the endpoints, in a task (off the publisher)."""
        self._tasks.spawn(self._published(meta))

    async def _published(self, meta: dict[str, Any]) -> None:
        try:
            await self.enqueue([recording_published(meta, self.clock())])
        except Exception:
            log.exception("webhooks: recording.published of %s not enqueued", meta.get("id"))

    async def deliveries(self, limit: int) -> DeliveryLog:
        """The delivery log, newest first, for the operator."""
        if self.deliverer.lease.shared:
            await self.outbox.sync()
        shown = {ep.id: ep.shown for ep in self.endpoints}
        entries = list(self.outbox.state.entries.values())[-limit:]
        return DeliveryLog(
            [LoggedEndpoint(ep.id, ep.shown) for ep in self.endpoints],
            [_entry(entry, shown) for entry in reversed(entries)],
        )

    async def close(self) -> None:
        await self.feeds.close()
        await self._tasks.wait()
        await self.deliverer.close()
        await self.outbox.close()
        await self.journal.close()


def _outbox_journal(settings: HooksConfig) -> Journal:
    if settings.redis_url:
        return RedisJournal.from_url(settings.redis_url, prefix="classroom:webhooks")
    return FileJournal(settings.data_dir)


def _lease(settings: HooksConfig) -> Lease:
    if not settings.redis_url:
        return SoleNode()
    client = redis.Redis.from_url(settings.redis_url)
    return RedisLease(client, settings.node_url, settings.lease_ttl_ms, "classroom:webhooks")


class LoggedAttempt(msgspec.Struct):
    attempt: int
    at: str
    outcome: Outcome
    status: int | None
    error: str | None


class LoggedDelivery(msgspec.Struct):
    endpoint: str
    url: str | None
    """None when the endpoint is no longer configured."""
    state: Literal["pending", "retrying", "delivered", "gave_up", "dropped"]
    tries: int
    next_attempt_at: str | None
    attempts: list[LoggedAttempt]
    """The last ten, oldest first."""


class LoggedMessage(msgspec.Struct):
    id: str
    type: str
    created_at: str
    deliveries: list[LoggedDelivery]


class LoggedEndpoint(msgspec.Struct):
    id: str
    url: str


class DeliveryLog(msgspec.Struct):
    endpoints: list[LoggedEndpoint]
    messages: list[LoggedMessage]
    """Newest first."""


def _entry(entry: Entry, shown: dict[str, str]) -> LoggedMessage:
    msg = entry.message
    deliveries = [_delivery(d, shown) for d in entry.deliveries.values()]
    return LoggedMessage(msg.id, msg.type, iso(msg.created_at), deliveries)


def _delivery(d: Delivery, shown: dict[str, str]) -> LoggedDelivery:
    state: Any = "retrying" if d.outcome == "retry" else d.outcome or "pending"
    attempts = [
        LoggedAttempt(a.attempt, iso(a.at), a.outcome, a.status, a.error or None)
        for a in d.attempts
    ]
    due = None if d.settled else iso(d.due)
    return LoggedDelivery(d.endpoint, shown.get(d.endpoint), state, d.tries, due, attempts)
