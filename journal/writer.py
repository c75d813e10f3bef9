"""One ordered writer per class: appends reach the journal in seq order, in batches.

Commands of one class run concurrently; their events are stamped in order
but their appends could otherwise race. A single drain task writes
everything queued so far in one append, which also turns a vote storm into
a few journal writes.

A failed write breaks the writer for good. The events after the lost ones
were stamped and applied already, and writing them would leave a hole in the
journal: every queued and later write fails at once, and the class must be
rebuilt from what is durable.
"""

from __future__ import annotations

import asyncio

from journal.contract import Fence, Journal, JournalError, Record

_Waiting = tuple[list[Record], asyncio.Future[None]]


class WriterBroken(JournalError):
    """An earlier write of this class failed; nothing more may be appended."""


class OrderedWriter:
    def __init__(self, journal: Journal, class_id: str, fence: Fence | None = None) -> None:
        self._journal = journal
        self._class_id = class_id
        self._fence = fence
        self._queue: list[_Waiting] = []
        self._task: asyncio.Task[None] | None = None
        self.durable_seq = 0
        """The seq of the last record written: every record up to it is durable."""
        self.broken: WriterBroken | None = None

    async def write(self, records: list[Record]) -> None:
        """Returns when `records` (and everything queued before them) are durable."""
        if self.broken is not None:
            raise self.broken
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((records, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        await done

    async def barrier(self) -> None:
        """Returns when everything queued so far is durable."""
        await self.write([])

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            records = [record for records, _ in batch for record in records]
            try:
                if records:
                    await self._journal.append(self._class_id, records, self._fence)
            except Exception as exc:  # every waiter, now and later, must hear of it
                self._break(exc, batch)
                return
            if records:
                self.durable_seq = max(self.durable_seq, records[-1][0])
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    def _break(self, exc: Exception, batch: list[_Waiting]) -> None:
        self.broken = WriterBroken(f"a journal write failed: {exc}")
        self.broken.__cause__ = exc
        waiting, self._queue = batch + self._queue, []
        for _, done in waiting:
            if not done.done():
                done.set_exception(self.broken)

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.gather(asyncio.shield(self._task), return_exceptions=True)
