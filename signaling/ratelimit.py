"""Token buckets per user and event family, so one client cannot flood a class."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: float


DEFAULT_RATES: dict[str, Rate] = {
    "chat": Rate(5, 10),
    "hand": Rate(2, 6),
    "reaction": Rate(6, 12),
    "control": Rate(5, 10),
    "poll": Rate(10, 20),
    "qa": Rate(5, 15),
    "breakout": Rate(5, 15),
    "rtc": Rate(20, 60),
}


class RateLimiter:
    def __init__(
        self,
        rates: dict[str, Rate] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rates = rates or DEFAULT_RATES
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def allow(self, user_id: str, family: str) -> bool:
        """Take one token from the user's bucket for this family, if there is one."""
        rate = self._rates.get(family, Rate(10, 20))
        now = self._clock()
        tokens, last = self._buckets.get((user_id, family), (rate.burst, now))
        tokens = min(rate.burst, tokens + (now - last) * rate.per_second)
        if tokens < 1:
            self._buckets[(user_id, family)] = (tokens, now)
            return False
        self._buckets[(user_id, family)] = (tokens - 1, now)
        return True

    def forget(self, user_id: str) -> None:
        for key in [k for k in self._buckets if k[0] == user_id]:
            del self._buckets[key]
