"""The outbox's records and their fold: which message is due where, and what happened.

The outbox is append-only. `Enqueued` records a message and the endpoints it
goes to; `Attempted` records each try and what it led to. Folding the
records, in order, gives every delivery's state, so a restarted node (or the
next node to deliver, in a cluster) takes over exactly where they stand: a
message retried later keeps its id, and one an endpoint answered 2xx is
never sent there again.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from hooks.payloads import Message

RETRY_DELAYS_S: tuple[float, ...] = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
"""Waits before each retry (the Standard Webhooks schedule): 27 h 35 min in all, at least."""
JITTER = 0.25
"""Each wait is stretched by up to this fraction, so endpoints back up out of step."""
HISTORY = 10
"""Attempts kept per delivery for the delivery log."""

Outcome = Literal["delivered", "retry", "gave_up", "dropped"]
"""`dropped`: the endpoint is no longer configured, or the message is out of date."""


class Enqueued(msgspec.Struct, tag="enqueued", frozen=True):
    message: Message
    endpoints: list[str]
    """Endpoint ids (see `endpoint_id`): URLs may carry credentials, records do not."""


class Attempted(msgspec.Struct, tag="attempted", frozen=True):
    id: str
    endpoint: str
    attempt: int
    at: int
    outcome: Outcome
    status: int | None = None
    error: str = ""
    next_at: int | None = None
    """When the next try is due (`retry` only), epoch ms."""


Record = Enqueued | Attempted
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Record)


def encode(record: Record) -> bytes:
    return _encoder.encode(record)


def decode(data: bytes) -> Record:
    record: Record = _decoder.decode(data)
    return record


def retry_at(
    attempt: int, now_ms: int, rng: random.Random, delays: tuple[float, ...] = RETRY_DELAYS_S
) -> int | None:
    """When try `attempt + 1` is due after try `attempt` failed; None once they are spent."""
    if attempt > len(delays):
        return None
    wait = delays[attempt - 1] * (1 + rng.uniform(0, JITTER))
    return now_ms + int(wait * 1000)


@dataclass
class Delivery:
    """One message to one endpoint."""

    msg_id: str
    endpoint: str
    due: int
    """When the next try is due (epoch ms); meaningless once settled."""
    outcome: Outcome | None = None
    """None until a try is recorded."""
    attempts: list[Attempted] = field(default_factory=list)
    tries: int = 0

    @property
    def settled(self) -> bool:
        return self.outcome in ("delivered", "gave_up", "dropped")


@dataclass
class Entry:
    message: Message
    deliveries: dict[str, Delivery]

    @property
    def settled(self) -> bool:
        return all(d.settled for d in self.deliveries.values())


class OutboxState:
    """Every message in the outbox's window, in the order they were enqueued."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, Entry] = OrderedDict()

    def apply(self, record: Record) -> list[Delivery]:
        """Fold one record; returns the deliveries it made due or changed."""
        if isinstance(record, Enqueued):
            return self._enqueued(record)
        entry = self.entries.get(record.id)
        delivery = None if entry is None else entry.deliveries.get(record.endpoint)
        if delivery is None or delivery.settled or record.attempt <= delivery.tries:
            return []  # already known (a record read twice), or outside the window
        delivery.tries, delivery.outcome = record.attempt, record.outcome
        delivery.attempts = [*delivery.attempts[-(HISTORY - 1) :], record]
        if record.next_at is not None:
            delivery.due = record.next_at
        return [delivery]

    def _enqueued(self, record: Enqueued) -> list[Delivery]:
        msg = record.message
        if msg.id in self.entries:
            return []
        due = {eid: Delivery(msg.id, eid, msg.created_at) for eid in record.endpoints}
        self.entries[msg.id] = Entry(msg, due)
        return list(due.values())

    def pending(self) -> list[tuple[Entry, Delivery]]:
        return [
            (entry, d)
            for entry in self.entries.values()
            if not entry.settled
            for d in entry.deliveries.values()
            if not d.settled
        ]

    def forget_before(self, created_before: int) -> None:
        """Drop settled messages older than the window, so memory stays bounded."""
        for msg_id in [
            msg_id
            for msg_id, entry in self.entries.items()
            if entry.settled and entry.message.created_at < created_before
        ]:
            del self.entries[msg_id]
