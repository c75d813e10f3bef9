"""How a recording was watched along its length: the coverage chart of its report.

The recording is cut into at most `MAX_BUCKETS` buckets of whole seconds. For
each bucket: how many learners watched some of it, how much of it they
watched for the first time (the union of each learner's spans, summed), how
much again (stretches a learner had seen before, from the progress events'
`again`), and how many learners stopped there (their last position). The
first two show where people drop off, the third where they rewatch. Hosts
and moderators are left out: their previews are not the audience's viewing.

Rewatches are counted at the grain of a progress report: a stretch seen
twice within one report counts once.
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


def coverage(stream: Replay, history: Iterable[Event]) -> Coverage:
    duration = stream.duration_ms
    width = bucket_ms(duration)
    count = -(-duration // width) if duration > 0 else 0
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
    for ev in history:
        if isinstance(ev, r.ProgressNoted) and ev.again and ev.user_id in learners:
            for start, end in spans.clamp(ev.again, duration):
                for i, overlap in _split(start, end, width):
                    again[i] += overlap
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
