"""When a coalesced tally goes out: the one rule the live class and its replay share.

Ballots and upvotes are journal events nobody receives as such; what people
see is a tally (`poll:results`, `qa:votes`). A change after a quiet spell
goes out at once, the rest of a storm is folded into one tally per interval,
and the last change always goes out (the trailing edge), so everyone ends on
the exact final count. The live class paces by the loop's clock
(signaling/coalesce.py), the replay by the recording's (recorder/timeline.py).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Pacer(Generic[K]):
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[K, float] = {}
        self.waiting: dict[K, float] = {}
        """Keys whose tally is due, and when."""

    def changed(self, key: K, now: float) -> float | None:
        """A change at `now`: when its tally is due (`now` itself after a quiet spell), or
        None when a tally of that key is due already and will carry this change too."""
        if key in self.waiting:
            return None
        due = max(now, self._last.get(key, float("-inf")) + self.interval)
        self.waiting[key] = due
        return due

    def sent(self, key: K, at: float) -> None:
        """A tally of `key` went out at `at` (when due, or early: a poll closed)."""
        self.waiting.pop(key, None)
        self._last[key] = at

    def due_by(self, now: float) -> list[K]:
        """The keys whose tally is due at or before `now`, soonest first."""
        due = sorted((at, n, k) for n, (k, at) in enumerate(self.waiting.items()) if at <= now)
        return [key for _, _, key in due]
