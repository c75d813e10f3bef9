"""A class's timeline for reports: people present, chat and reactions per minute, moments.

Counts are kept per wall-clock minute (`ts // 60_000`) while the journal is
folded, and laid out as buckets only when the report is asked for, so the
same fold serves a class that is still going on. A class that stayed open
for days is shown in at most MAX_BUCKETS buckets of whole minutes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import msgspec

MINUTE_MS = 60_000
MAX_BUCKETS = 24 * 60
"""A day of minutes; a longer class gets buckets of several minutes."""


class Bucket(msgspec.Struct):
    t: int
    """Start of the bucket (epoch ms, on a whole minute)."""
    present: int
    """The most people connected at once during the bucket."""
    chat: int
    reactions: int


class Moment(msgspec.Struct, omit_defaults=True):
    t: int
    kind: str
    """poll.opened, poll.closed, poll.published, breakout.opened, breakout.closed,
    recording.started, recording.paused, recording.resumed, recording.stopped,
    recording.marker or class.ended."""
    id: str | None = None
    """The poll's or recording's id."""
    label: str | None = None
    """The poll's question, the marker's title, or the number of breakout rooms."""


class Timeline(msgspec.Struct):
    bucket_ms: int
    buckets: list[Bucket]
    moments: list[Moment]


@dataclass
class TimelineFold:
    present: int = 0
    peak: dict[int, int] = field(default_factory=dict)
    """minute -> the most people present at once after a change in that minute."""
    end: dict[int, int] = field(default_factory=dict)
    """minute -> people present after the last change in that minute."""
    chat: Counter[int] = field(default_factory=Counter)
    reactions: Counter[int] = field(default_factory=Counter)
    moments: list[Moment] = field(default_factory=list)
    first_minute: int | None = None

    def presence(self, ts: int, change: int) -> None:
        minute = ts // MINUTE_MS
        if self.first_minute is None:
            self.first_minute = minute
        self.present += change
        self.peak[minute] = max(self.peak.get(minute, 0), self.present)
        self.end[minute] = self.present

    def chatted(self, ts: int) -> None:
        self.chat[ts // MINUTE_MS] += 1

    def reacted(self, ts: int) -> None:
        self.reactions[ts // MINUTE_MS] += 1

    def moment(self, ts: int, kind: str, id: str | None = None, label: str | None = None) -> None:
        self.moments.append(Moment(ts, kind, id, label))

    def timeline(self, as_of: int) -> Timeline:
        """The buckets from the first join to `as_of`; changes nothing."""
        if self.first_minute is None:
            return Timeline(MINUTE_MS, [], list(self.moments))
        first, last = self.first_minute, max(as_of // MINUTE_MS, self.first_minute)
        width = -(-(last - first + 1) // MAX_BUCKETS)
        buckets: list[Bucket] = []
        carry = 0
        for start in range(first, last + 1, width):
            present = chat = reactions = 0
            for minute in range(start, min(start + width, last + 1)):
                present = max(present, carry, self.peak.get(minute, 0))
                carry = self.end.get(minute, carry)
                chat += self.chat[minute]
                reactions += self.reactions[minute]
            buckets.append(Bucket(start * MINUTE_MS, present, chat, reactions))
        return Timeline(width * MINUTE_MS, buckets, list(self.moments))
