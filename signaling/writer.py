"""One ordered writer per class: appends reach the journal in seq order, in batches.

Commands of one class run concurrently; their events are stamped in order
but their appends could otherwise race (and a Redis Stream refuses an id
lower than its last). A single drain task writes everything queued so far
in one append, which also turns a vote storm into a few journal writes.
"""

from __future__ import annotations

import asyncio

from recorder.journal import Journal, Record


class OrderedWriter:
    def __init__(self, journal: Journal, class_id: str) -> None:
        self._journal = journal
        self._class_id = class_id
        self._queue: list[tuple[list[Record], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.durable_seq = 0
        """The seq of the last record written: every record up to it is durable."""

    async def write(self, records: list[Record]) -> None:
        """Returns when `records` (and everything queued before them) are durable."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((records, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            records = [record for records, _ in batch for record in records]
            try:
                await self._journal.append(self._class_id, records)
            except Exception as exc:  # every waiter must hear about the failure
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            if records:
                self.durable_seq = max(self.durable_seq, records[-1][0])
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)
