"""Fault injection at the journal's interface: a real journal that fails when told to.

    faulty = FaultyJournal(FileJournal(path))
    faulty.arm(record=15, stored=False)   # the append holding the 15th record from now fails

`stored=False` is a disk that refused the write (nothing kept); `stored=True`
is a write that landed but whose answer was lost (a dropped connection): the
records are durable, yet the caller hears of a failure. `reads` keeps where
each read of each stream started, for what must not read the journal again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from journal import Fence, Journal, JournalError, Record


class FaultyJournal:
    def __init__(self, inner: Journal) -> None:
        self.inner = inner
        self.failures = 0
        self._countdown: int | None = None
        self._stored = False
        self.reads: dict[str, list[int]] = {}
        """By stream: the `after_seq` of each read."""

    def arm(self, record: int, stored: bool = False) -> None:
        """Fail the append that holds the `record`-th record appended from now on, once."""
        self._countdown, self._stored = record, stored

    async def append(
        self, class_id: str, records: Sequence[Record], fence: Fence | None = None
    ) -> None:
        if self._countdown is None or self._countdown > len(records):
            if self._countdown is not None:
                self._countdown -= len(records)
            await self.inner.append(class_id, records, fence)
            return
        self._countdown = None
        self.failures += 1
        if self._stored:
            await self.inner.append(class_id, records, fence)
        raise JournalError("injected fault: the write failed")

    def read(self, class_id: str, after_seq: int = 0) -> AsyncIterator[Record]:
        self.reads.setdefault(class_id, []).append(after_seq)
        return self.inner.read(class_id, after_seq)

    async def last_seq(self, class_id: str) -> int:
        return await self.inner.last_seq(class_id)

    async def class_ids(self) -> list[str]:
        return await self.inner.class_ids()

    async def close(self) -> None:
        await self.inner.close()
