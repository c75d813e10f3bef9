"""Token buckets per key and event family, so no one client can flood a class or the server.

Keys are what a limit is about: `(class id, user id)` for a participant's
events (user ids are per class: two classes' hosts are two people), a client
address for connects and invite redemptions, an invite for its redemptions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
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
    # A page turn, a zoom or a pan (clients send at most a few a second while dragging).
    "slides": Rate(10, 30),
    # Ink: a batch every 50 ms while drawing, and some room for a burst of shapes.
    "board": Rate(30, 60),
    "bad": Rate(2, 10),
    # A replay's player reports progress every few seconds, and on seeking.
    "progress": Rate(2, 10),
    # Per client address. A campus or office NAT puts a whole class behind one
    # address, so these allow a class arriving together, not one connect a second.
    "connect": Rate(10, 200),
    "join": Rate(5, 100),
    # Per invite: a class's shared link is redeemed by everyone who joins with it.
    "invite": Rate(10, 500),
}
OTHER = Rate(10, 20)
SWEEP_S = 1.0
"""Forgotten keys are looked at again at most this often."""


class RateLimiter:
    def __init__(
        self,
        rates: dict[str, Rate] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rates = rates or DEFAULT_RATES
        self._clock = clock
        self._buckets: dict[Hashable, dict[str, tuple[float, float]]] = {}
        """key -> family -> (tokens, when they were counted)."""
        self._gone: set[Hashable] = set()
        """Keys forgotten while a bucket of theirs was still refilling."""
        self._swept = -SWEEP_S

    def allow(self, key: Hashable, family: str) -> bool:
        """Take one token from the key's bucket for this family, if there is one."""
        now = self._clock()
        buckets = self._buckets.setdefault(key, {})
        tokens = self._tokens(buckets, family, now)
        if tokens < 1:
            buckets[family] = (tokens, now)
            return False
        buckets[family] = (tokens - 1, now)
        return True

    def wait_s(self, key: Hashable, family: str) -> float:
        """How long until the key may act again in this family (0 when it may now)."""
        tokens = self._tokens(self._buckets.get(key, {}), family, self._clock())
        return 0.0 if tokens >= 1 else (1 - tokens) / self._rate(family).per_second

    def forget(self, key: Hashable) -> None:
        """Drop the key's buckets (its user left) once they have refilled.

        Buckets still refilling are kept until they are full, so leaving and
        coming back does not buy a fresh burst; a call also drops the buckets
        of keys forgotten earlier that have refilled since (at most once per
        `SWEEP_S`, so a storm of connects does not scan them all each time).
        """
        now = self._clock()
        self._gone.add(key)
        self._drop_refilled(key, now)
        if now - self._swept >= SWEEP_S:
            self._swept = now
            for gone in list(self._gone):
                self._drop_refilled(gone, now)

    def _drop_refilled(self, key: Hashable, now: float) -> None:
        buckets = self._buckets.get(key, {})
        for family in list(buckets):
            if self._tokens(buckets, family, now) >= self._rate(family).burst:
                del buckets[family]
        if not buckets:
            self._buckets.pop(key, None)
            self._gone.discard(key)

    def __len__(self) -> int:
        """How many keys hold buckets (for tests)."""
        return len(self._buckets)

    def _rate(self, family: str) -> Rate:
        return self._rates.get(family, OTHER)

    def _tokens(self, buckets: dict[str, tuple[float, float]], family: str, now: float) -> float:
        rate = self._rate(family)
        tokens, last = buckets.get(family, (rate.burst, now))
        return min(rate.burst, tokens + (now - last) * rate.per_second)
