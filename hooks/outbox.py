"""The outbox, kept in the journal's backends: a file per day, or a Redis Stream per day.

Records go to the stream of the day they are written (`w-YYYYMMDD`, UTC),
contiguously like a class's events. Only the last `WINDOW_DAYS` days are
read at start-up: a message is retried for about 28 hours, so anything
older is settled, and older streams are never read again (operators may
delete them; docs/operations.md).

In a cluster every node appends the messages of the classes it hosts, so an
append can find that another node wrote first: it then reads what it
missed and tries again after it. Attempts are appended only by the node
that delivers, under its lease (the fence), so a node that lost the lease
can never record one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from hooks.records import Delivery, OutboxState, Record, decode, encode
from journal import Fence, Journal, JournalConflict

log = logging.getLogger(__name__)

WINDOW_DAYS = 3
DAY_MS = 24 * 3600 * 1000
CONFLICT_RETRIES = 20

_Waiting = tuple[list[Record], Fence | None, asyncio.Future[None]]


def segment(ts_ms: int) -> str:
    return "w-" + datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y%m%d")


class Outbox:
    def __init__(self, journal: Journal, clock: Callable[[], int]) -> None:
        self.journal = journal
        self.clock = clock
        self.state = OutboxState()
        self.on_change: Callable[[Delivery], None] = lambda _: None
        """Called with each delivery a record read or written made due or changed."""
        self._cursors: dict[str, int] = {}
        """The last seq of each stream read or written here."""
        self._queue: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    def window(self) -> list[str]:
        now = self.clock()
        return [segment(now - day * DAY_MS) for day in reversed(range(WINDOW_DAYS))]

    async def sync(self) -> None:
        """Read what was appended since we last looked (by other nodes, in a cluster)."""
        for name in self.window():
            await self._read(name)
        self.forget_old()

    def forget_old(self) -> None:
        """Forget settled messages and streams that left the window (memory stays bounded)."""
        oldest = self.window()[0]
        first_day = datetime.strptime(oldest, "w-%Y%m%d").replace(tzinfo=UTC)
        self.state.forget_before(int(first_day.timestamp() * 1000))
        for stale in [name for name in self._cursors if name < oldest]:
            del self._cursors[stale]

    async def _read(self, name: str) -> None:
        async for seq, data in self.journal.read(name, self._cursors.get(name, 0)):
            self._cursors[name] = seq
            self._apply(decode(data))

    def _apply(self, record: Record) -> None:
        for changed in self.state.apply(record):
            self.on_change(changed)

    def known(self, msg_id: str) -> bool:
        return msg_id in self.state.entries

    async def append(self, records: Sequence[Record], fence: Fence | None = None) -> None:
        """Returns once the records are durable (and folded into `state`)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((list(records), fence, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await asyncio.shield(done)

    async def _drain(self) -> None:
        # One append per round and fence: concurrent enqueues share a write.
        while self._queue:
            batch, self._queue = self._queue, []
            for fence in {fence for _, fence, _ in batch}:
                group = [w for w in batch if w[1] == fence]
                try:
                    await self._write([r for records, _, _ in group for r in records], fence)
                except Exception as exc:
                    _settle(group, exc)
                else:
                    _settle(group, None)

    async def _write(self, records: list[Record], fence: Fence | None) -> None:
        payloads = [encode(r) for r in records]
        for _ in range(CONFLICT_RETRIES):
            name = segment(self.clock())
            if name not in self._cursors:
                await self._read(name)
            first = self._cursors.get(name, 0) + 1
            try:
                await self.journal.append(
                    name, [(first + i, p) for i, p in enumerate(payloads)], fence
                )
            except JournalConflict:
                await self._read(name)  # another node wrote first: fold it, go after it
                continue
            self._cursors[name] = max(self._cursors.get(name, 0), first + len(payloads) - 1)
            for record in records:
                self._apply(record)
            return
        raise JournalConflict(f"the outbox kept moving under {CONFLICT_RETRIES} appends")

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(asyncio.shield(self._writer), return_exceptions=True)


def _settle(group: list[_Waiting], error: Exception | None) -> None:
    for _, _, done in group:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
