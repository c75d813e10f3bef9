"""Recordings' report folds kept in memory, so that a report or a digest costs only its own
making.

A recording's report is a fold of its stream's journal
(classroom/replay_report.py). Decoding a busy stream's journal costs more
than the report itself, so the fold is kept. For a stream this node hosts,
it is built once when the stream loads, from the events the stream was
rebuilt from (in a worker thread: the journal is not read again), and then
fed by the stream's listener as events are committed: a request reads
nothing. For a recording whose stream is not loaded here
(another node hosts it, or nobody is watching), the fold is built on the
first request and brought up to date from the journal on each next one,
folding only what is new (and reading nothing when its last seq is the
fold's), as class reports are. The journal stays the
record: a fold that misses an event (a gap, an overflowing queue) reads it
again from where the fold stands, and one the journal does not continue is
folded afresh.

Memory, per recording kept: the stream's state (per viewer a name, a role,
a few counters and at most `spans.MAX_SPANS` watched spans; each poll's
ballots; each question's voters), per viewer who rewatched at most
`MAX_BUCKETS` figures, and a small tuple per visit, ballot and question
event for the digest (`replay_report.Happenings`; not per progress
report); events heard while a report is being made wait in a queue of at
most `MAX_HEARD`. Folds are kept for the streams loaded here and
for the `CACHED_RECORDINGS` other recordings asked about last.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from classroom import replay_events as r
from classroom.events import Event
from classroom.heard import Heard
from classroom.replay import Recording
from classroom.replay_report import RecordingFold
from journal import Journal
from signaling.replay_runtime import ReplayRuntime
from signaling.tasks import TaskSet

log = logging.getLogger(__name__)

T = TypeVar("T")
CACHED_RECORDINGS = 16
"""Folds of recordings not loaded here kept in memory; the least recently asked is dropped."""
MAX_HEARD = 10_000
"""Events heard while the fold is busy; past it the journal is read instead."""


@dataclass
class _Entry:
    recording: Recording
    fold: RecordingFold | None = None
    """None until first built."""
    stream: ReplayRuntime | None = None
    """The stream loaded here that feeds the fold, if any."""
    heard: Heard = field(default_factory=lambda: Heard(MAX_HEARD))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while the fold is read or built in a worker thread: nothing applies meanwhile."""


class RecordingReports:
    def __init__(self, journal: Journal, size: int = CACHED_RECORDINGS) -> None:
        self.journal = journal
        self.size = size
        self._followed: dict[str, _Entry] = {}
        self._cached: OrderedDict[str, _Entry] = OrderedDict()
        self._tasks = TaskSet()

    def attach(self, runtime: ReplayRuntime, history: Sequence[Event]) -> None:
        """A replay host's hook: fold each stream this node loads from `history`, the
        events it was rebuilt from, and follow it."""
        rid, recording = runtime.recording_id, runtime.stream.recording
        entry = self._cached.pop(rid, None) or self._followed.get(rid)
        if entry is None or entry.recording != recording:
            entry = _Entry(recording)
        entry.stream = runtime
        entry.heard.reread = True  # until it has caught up with `history`, what is heard waits
        self._followed[rid] = entry

        async def heard(ev: Event) -> None:
            self._heard(entry, ev)

        runtime.listen(heard)

        def closed() -> None:
            if entry.stream is runtime:
                entry.stream = None
            if self._followed.get(rid) is entry:
                del self._followed[rid]
                self._keep(rid, entry)

        runtime.on_close(closed)
        self._tasks.spawn(self._build(rid, entry, history))

    async def use(self, recording: Recording, work: Callable[[RecordingFold], T]) -> T:
        """Run `work` on the recording's fold, up to date, in a worker thread."""
        entry = self._entry(recording)
        try:
            async with entry.lock:
                if entry.fold is None or entry.heard.reread or self._behind(entry):
                    await self._catch_up(recording.recording_id, entry)
                else:
                    _fold_heard(entry)
                fold = entry.fold
                assert fold is not None
                return await asyncio.to_thread(work, fold)
        finally:
            _when_free(entry)  # what was heard meanwhile

    async def close(self) -> None:
        self._tasks.cancel()
        await self._tasks.wait()

    # -- the entries ---------------------------------------------------------

    def _entry(self, recording: Recording) -> _Entry:
        rid = recording.recording_id
        entry = self._followed.get(rid)
        if entry is not None:
            return entry
        entry = self._cached.pop(rid, None)
        if entry is None or entry.recording != recording:
            entry = _Entry(recording)  # or republished since: its facts changed
        self._keep(rid, entry)
        return entry

    def _keep(self, rid: str, entry: _Entry) -> None:
        self._cached[rid] = entry
        while len(self._cached) > self.size:
            self._cached.popitem(last=False)

    @staticmethod
    def _behind(entry: _Entry) -> bool:
        """Whether the fold may lack durable events: no stream here feeds it, or the
        stream's listener has not handed on all that is durable yet."""
        stream = entry.stream
        if stream is None or stream.failed:
            return True
        assert entry.fold is not None
        return entry.fold.seq + len(entry.heard) < stream.durable_seq

    # -- folding -------------------------------------------------------------

    def _heard(self, entry: _Entry, ev: Event) -> None:
        entry.heard.hear(ev)
        _when_free(entry)

    async def _build(self, rid: str, entry: _Entry, history: Sequence[Event]) -> None:
        """Fold a stream just loaded from what it was loaded from, once."""
        try:
            async with entry.lock:
                fold = entry.fold or RecordingFold(entry.recording)
                try:
                    await asyncio.to_thread(_fold_past, fold, history)
                except ValueError:  # the loaded stream does not continue the fold
                    fold = RecordingFold(entry.recording)
                    await asyncio.to_thread(_fold_past, fold, history)
                self._caught_up(entry, fold)
        except Exception:  # the first request reads the journal instead
            log.exception("recording %s: its report could not be folded", rid)

    async def _catch_up(self, rid: str, entry: _Entry) -> None:
        """Fold what the journal holds past the fold (the lock is held)."""
        fold = entry.fold or RecordingFold(entry.recording)
        if entry.fold is not None and await self.journal.last_seq(rid) == fold.seq:
            self._caught_up(entry, fold)  # nothing new: nothing to read
            return
        records = [data async for _, data in self.journal.read(rid, fold.seq)]
        try:
            await asyncio.to_thread(_fold, fold, records)
        except ValueError:
            # The journal does not continue the fold: fold it all afresh.
            fold = RecordingFold(entry.recording)
            records = [data async for _, data in self.journal.read(rid)]
            await asyncio.to_thread(_fold, fold, records)
        self._caught_up(entry, fold)

    @staticmethod
    def _caught_up(entry: _Entry, fold: RecordingFold) -> None:
        """The fold holds every durable event up to its seq: fold what was heard since."""
        entry.fold, entry.heard.reread = fold, False
        _fold_heard(entry)


def _fold(fold: RecordingFold, records: list[bytes]) -> None:
    for data in records:
        fold.apply(r.decode(data))


def _fold_past(fold: RecordingFold, history: Sequence[Event]) -> None:
    """Fold the events of `history` (seq 1 on) the fold does not hold yet: none if a
    request folded the journal first."""
    for ev in history[fold.seq :]:
        fold.apply(ev)


def _when_free(entry: _Entry) -> None:
    """Fold the events heard unless the fold is busy (its holder folds them when done)."""
    if not entry.lock.locked():
        _fold_heard(entry)


def _fold_heard(entry: _Entry) -> None:
    """Fold the events heard, in order, unless the fold is not built or missed one."""
    fold = entry.fold
    if fold is None:
        return
    for ev in entry.heard.following(fold.seq):
        fold.apply(ev)
