"""The class journal: an append-only, per-class log of encoded events.

Every backend stores opaque records keyed by the class's event sequence
number. `append` returns only once the records are durable, so whatever the
server acknowledged to a client survives a crash.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Protocol

Record = tuple[int, bytes]
"""(seq, encoded event). Sequence numbers start at 1 and strictly increase per class."""


class JournalError(Exception):
    """The journal refused or could not complete an operation."""


class JournalConflict(JournalError):
    """An append would not strictly increase the class's sequence numbers."""


class Journal(Protocol):
    async def append(self, class_id: str, records: Sequence[Record]) -> None:
        """Append records in order; returns when they are durable."""

    def read(self, class_id: str, after_seq: int = 0) -> AsyncIterator[Record]:
        """Yield every record with seq > after_seq, in order."""

    async def last_seq(self, class_id: str) -> int:
        """The highest stored seq of the class, 0 when it has none."""

    async def class_ids(self) -> list[str]:
        """Every class that has at least one record."""

    async def close(self) -> None:
        """Flush what is pending and release files or connections."""


MAX_SEQ = 2**64 - 1
"""The largest sequence number: both backends store it as an unsigned 64-bit integer."""

_CLASS_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_class_id(class_id: str) -> None:
    """Refuse ids that could escape a directory or a key namespace."""
    if not _CLASS_ID.fullmatch(class_id):
        raise ValueError(f"invalid class id {class_id!r}")


def check_records(records: Sequence[Record], last_seq: int = 0) -> None:
    """Raise JournalConflict unless the seqs strictly increase from last_seq."""
    previous = last_seq
    for seq, _payload in records:
        if seq > MAX_SEQ:
            raise ValueError(f"seq {seq} does not fit in 64 bits")
        if seq <= previous:
            raise JournalConflict(f"seq {seq} does not follow {previous}")
        previous = seq


def open_journal(data_dir: Path | None, redis_url: str | None) -> Journal:
    """The configured backend: Redis when a URL is given, else files under data_dir."""
    # Imported here because both backends import this module.
    if redis_url:
        from recorder.journal_redis import RedisJournal

        return RedisJournal.from_url(redis_url)
    if data_dir is not None:
        from recorder.journal_file import FileJournal

        return FileJournal(data_dir)
    raise ValueError("the journal needs a data directory or a Redis URL")
