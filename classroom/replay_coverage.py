"""How a recording was watched along its length: the coverage chart of its report.

The recording is cut into at most `MAX_BUCKETS` buckets of whole seconds. For
each bucket: how many learners watched some of it, how much of it they
watched for the first time (the union of each learner's spans, summed), how
much again (stretches a learner had seen before, from the progress events'
`again`), and how many learners stopped there (their last position). The
first two show where people drop off, the third where they rewatch. Hosts
and moderators are left out: their previews are not the audience's viewing.

Rewatches are counted at the grain of a progress report: a stretch seen
twice within one report counts once. They are kept per viewer and bucket as
the events come (`Rewatches`), so the chart is made without the events.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from classroom import replay_events as r
from classroom import spans
from classroom.events import Event
from classroom.replay import Replay

MAX_BUCKETS = 120
MIN_BUCKET_MS = 1000


class CoverageBucket(msgspec.Struct):
    at_ms: int
    """Where the bucket starts on the recording's clock; it ends at the next one's start."""
    viewers: int
    """Learners who watched some of it."""
    watched_ms: int
    """First viewing: the learners' watched time within it, each stretch counted once each."""
    again_ms: int
    """Watched again: time spent on stretches of it the learner had seen before."""
    stopped: int
    """Learners whose last position lies in it (the last bucket holds those who finished)."""


class Coverage(msgspec.Struct):
    bucket_ms: int
    learners: int
    """Learners counted (viewers who are not hosts or moderators)."""
    buckets: list[CoverageBucket]


def bucket_ms(duration_ms: int) -> int:
    """The smallest whole number of seconds that cuts the recording into MAX_BUCKETS or fewer."""
    per = -(-duration_ms // MAX_BUCKETS)
    return max(MIN_BUCKET_MS, -(-per // 1000) * 1000)


class Rewatches:
    """Each viewer's time watched again, by bucket: what the chart needs of the progress
    events, kept as they come (at most MAX_BUCKETS figures a viewer who rewatched)."""

    def __init__(self, duration_ms: int) -> None:
        self.duration_ms = duration_ms
        self.width = bucket_ms(duration_ms)
        self.count = -(-duration_ms // self.width) if duration_ms > 0 else 0
        self.by_user: dict[str, list[int]] = {}

    def note(self, ev: Event) -> None:
        if not isinstance(ev, r.ProgressNoted) or not ev.again:
            return
        row = self.by_user.get(ev.user_id)
        if row is None:
            row = self.by_user[ev.user_id] = [0] * self.count
        for start, end in spans.clamp(ev.again, self.duration_ms):
            for i, overlap in _split(start, end, self.width):
                row[i] += overlap


def coverage(stream: Replay, rewatches: Rewatches) -> Coverage:
    width, count = rewatches.width, rewatches.count
    viewers, watched, again, stopped = [0] * count, [0] * count, [0] * count, [0] * count
    learners = {uid for uid, v in stream.viewers.items() if not v.staff}
    for uid in learners:
        viewer = stream.viewers[uid]
        last = -1
        for start, end in viewer.watched:
            for i, overlap in _split(start, end, width):
                watched[i] += overlap
                if i != last:  # spans are sorted and disjoint: buckets come in order
                    viewers[i] += 1
                    last = i
        if count:
            stopped[min(count - 1, viewer.position_ms // width)] += 1
        for i, ms in enumerate(rewatches.by_user.get(uid, ())):
            again[i] += ms
    buckets = [
        CoverageBucket(i * width, viewers[i], watched[i], again[i], stopped[i])
        for i in range(count)
    ]
    return Coverage(bucket_ms=width, learners=len(learners), buckets=buckets)


def _split(start: int, end: int, width: int) -> Iterable[tuple[int, int]]:
    """The buckets `[start, end)` falls in, with how much of it falls in each."""
    i = start // width
    while start < end:
        edge = min(end, (i + 1) * width)
        yield i, edge - start
        start, i = edge, i + 1
