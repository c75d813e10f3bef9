"""Active speaker detection from the audio level header (RFC 6464), per room.

Each audio packet's level (0 loudest .. 127 silence, in -dBov) feeds a
smoothed loudness per user. Twice a second the room's loudest voice above a
threshold is the candidate; it becomes the speaker once it has stayed the
candidate for `HOLD_S`, so a cough does not flip the highlight. Pure: time
comes in as `now`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EVAL_S = 0.5
HOLD_S = 1.0
SPEAKING = 127 - 50
"""Smoothed loudness (127 - level) above which someone is speaking: louder than -50 dBov."""
SMOOTHING = 0.2


@dataclass
class _Room:
    loudness: dict[str, float] = field(default_factory=dict)
    current: str | None = None
    candidate: str | None = None
    since: float = 0.0
    last_eval: float = float("-inf")


@dataclass(frozen=True)
class Change:
    room: str
    user_id: str | None


class Speakers:
    def __init__(self) -> None:
        self._rooms: dict[str, _Room] = {}

    def observe(self, room: str, user_id: str, level: int, now: float) -> Change | None:
        """Take one packet's level; returns the room's new speaker when it changes."""
        r = self._rooms.setdefault(room, _Room())
        loud = 127 - min(max(level, 0), 127)
        r.loudness[user_id] = r.loudness.get(user_id, 0.0) * (1 - SMOOTHING) + loud * SMOOTHING
        if now - r.last_eval < EVAL_S:
            return None
        r.last_eval = now
        return self._decide(room, r, now)

    def _decide(self, room: str, r: _Room, now: float) -> Change | None:
        loudest = max(r.loudness, key=r.loudness.__getitem__, default=None)
        if loudest is not None and r.loudness[loudest] < SPEAKING:
            loudest = None
        if loudest != r.candidate:
            r.candidate, r.since = loudest, now
            return None
        if loudest != r.current and now - r.since >= HOLD_S:
            r.current = loudest
            return Change(room, loudest)
        return None

    def forget(self, user_id: str) -> list[Change]:
        """A user stopped sending audio, was muted or moved: they speak nowhere now."""
        out: list[Change] = []
        for room, r in self._rooms.items():
            r.loudness.pop(user_id, None)
            if r.candidate == user_id:
                r.candidate = None
            if r.current == user_id:
                r.current = None
                out.append(Change(room, None))
        return out
