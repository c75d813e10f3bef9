"""Events a listener heard from a stream, waiting to be folded in seq order.

A listener that keeps a fold of a stream (webhook messages, a recording's
report) hears each event once it is durable, but may not fold it at once.
What waits is bounded: past the limit the events are dropped and `reread`
says to read the journal from where the fold stands instead, as after a gap
(an event that does not follow the fold's seq). The journal stays the record.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from classroom.events import Event


class Heard:
    def __init__(self, limit: int, reread: bool = False) -> None:
        self.limit = limit
        self.reread = reread
        """The fold missed an event: read the journal from where it stands."""
        self._events: deque[Event] = deque()

    def __len__(self) -> int:
        return len(self._events)

    def hear(self, ev: Event) -> None:
        if len(self._events) >= self.limit:
            self._events.clear()
            self.reread = True
        else:
            self._events.append(ev)

    def following(self, seq: int) -> Iterator[Event]:
        """The events that follow `seq`, in order, each taken off as it is handed on;
        those already folded are skipped, and a gap stops it and sets `reread`."""
        while self._events and not self.reread:
            ev = self._events.popleft()
            if ev.seq <= seq:
                continue
            if ev.seq != seq + 1:
                self.reread = True  # the journal has what was missed
                return
            seq = ev.seq
            yield ev
