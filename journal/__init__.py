"""The class journal: the one durable record of what happened in each class.

A layer of its own, below the runtime that writes it and the recorder that
reads it: `contract` (what every backend promises), `files` (one append-only
file per class), `streams` (a Redis Stream per class, for a cluster) and
`writer` (one ordered writer per class).
"""

from journal.contract import (
    MAX_SEQ,
    Fence,
    Journal,
    JournalConflict,
    JournalError,
    JournalFenced,
    Record,
    check_class_id,
    check_records,
    open_journal,
)
from journal.writer import OrderedWriter, WriterBroken

__all__ = [
    "MAX_SEQ",
    "Fence",
    "Journal",
    "JournalConflict",
    "JournalError",
    "JournalFenced",
    "OrderedWriter",
    "Record",
    "WriterBroken",
    "check_class_id",
    "check_records",
    "open_journal",
]
