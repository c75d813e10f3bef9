"""The class journal: an append-only, per-class log of encoded events.

Every backend stores opaque records keyed by the class's event sequence
number. `append` returns only once the records are durable, so whatever the
server acknowledged to a client survives a crash.

Appends are contiguous: the first seq of an append must be the last stored
one plus one, and the seqs within it consecutive. A writer that lost a write
can therefore never append past the hole it left; it must rebuild from what
is stored. In a cluster an append also carries a `Fence`, the lease of the
node that hosts the class, checked by the backend in the same atomic step as
the write, so a node that lost its lease can never append.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

Record = tuple[int, bytes]
"""(seq, encoded event). Sequence numbers start at 1 and go up by one per class."""


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease an append is made under: `key` must hold `token` when it is written."""

    key: str
    token: str


class JournalError(Exception):
    """The journal refused or could not complete an operation."""


class JournalConflict(JournalError):
    """An append does not start right after the class's last stored seq."""


class JournalFenced(JournalError):
    """An append was made under a lease that is no longer held."""


class Journal(Protocol):
    async def append(
        self, class_id: str, records: Sequence[Record], fence: Fence | None = None
    ) -> None:
        """Append records after the last stored one; returns when they are durable.

        Raises JournalConflict unless the first seq is the last stored one plus
        one, and JournalFenced when `fence` is given and no longer held.
        """

    def read(self, class_id: str, after_seq: int = 0) -> AsyncIterator[Record]:
        """Yield every record with seq > after_seq, in order."""

    async def last_seq(self, class_id: str) -> int:
        """The highest stored seq of the class, 0 when it has none."""

    async def class_ids(self) -> list[str]:
        """Every class that has at least one record."""

    async def close(self) -> None:
        """Flush what is pending and release files or connections."""


MAX_SEQ = 2**53 - 1
"""The largest sequence number: Redis's scripts count in doubles, exact up to 2**53."""

_CLASS_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_class_id(class_id: str) -> None:
    """Refuse ids that could escape a directory or a key namespace."""
    if not _CLASS_ID.fullmatch(class_id):
        raise ValueError(f"invalid class id {class_id!r}")


def check_records(records: Sequence[Record], last_seq: int | None = None) -> None:
    """Raise JournalConflict unless the seqs count up by one from last_seq.

    With `last_seq` None only the records' own run is checked (consecutive,
    from 1 or more): the backend compares the first with what it stores.
    """
    previous = last_seq
    for seq, _payload in records:
        if seq > MAX_SEQ:
            raise ValueError(f"seq {seq} is larger than {MAX_SEQ}")
        if previous is None and seq < 1:
            raise JournalConflict(f"seq {seq}: sequence numbers start at 1")
        if previous is not None and seq != previous + 1:
            raise JournalConflict(f"seq {seq} does not follow {previous}")
        previous = seq


def open_journal(
    data_dir: Path | None, redis_url: str | None, prefix: str = "classroom"
) -> Journal:
    """The configured backend: Redis when a URL is given (its keys under `prefix`), else
    files under data_dir."""
    # Imported here because both backends import this module.
    if redis_url:
        from journal.streams import RedisJournal

        return RedisJournal.from_url(redis_url, prefix)
    if data_dir is not None:
        from journal.files import FileJournal

        return FileJournal(data_dir)
    raise ValueError("the journal needs a data directory or a Redis URL")
