"""Active speaker detection from the audio level header (RFC 6464), per room.

Each audio packet carries its level (0 loudest .. 127 silence, in -dBov).
Levels are gathered per user over windows of `EVAL_S`. A user speaks in a
window when at least `ACTIVE_SHARE` of their packets were louder than
`SPEAKING`: speech pauses between words and syllables, so a window is
judged by its share of loud packets, not by its last instant. The room's
candidate is the speaking user with the loudest window; it becomes the
speaker once it has stayed the candidate for `HOLD_S`, so a cough or a
door does not flip the highlight. A candidate or speaker who still speaks
keeps their place unless someone is louder by `MARGIN_DB`: several people
talking at once must not make the highlight flap between them, nor keep
anyone from being named. Pure: time comes in as `now`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EVAL_S = 0.5
HOLD_S = 1.0
SPEAKING = 127 - 50
"""Loudness (127 - level) of a loud packet: louder than -50 dBov."""
ACTIVE_SHARE = 0.3
"""Share of a window's packets that must be loud for its user to be speaking."""
MARGIN_DB = 6.0
"""How much louder (mean loudness over a window) a rival must be to take over."""


@dataclass
class _Window:
    packets: int = 0
    loud: int = 0
    loudness: int = 0

    def add(self, level: int) -> None:
        loudness = 127 - min(max(level, 0), 127)
        self.packets += 1
        self.loud += loudness > SPEAKING
        self.loudness += loudness

    def speaking(self) -> bool:
        return self.packets > 0 and self.loud >= ACTIVE_SHARE * self.packets

    def mean(self) -> float:
        return self.loudness / self.packets if self.packets else 0.0


@dataclass
class _Room:
    windows: dict[str, _Window] = field(default_factory=dict)
    current: str | None = None
    candidate: str | None = None
    since: float = 0.0
    window_start: float | None = None


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
        if r.window_start is None:
            r.window_start = now
        r.windows.setdefault(user_id, _Window()).add(level)
        if now - r.window_start < EVAL_S:
            return None
        change = self._decide(room, r, now)
        r.windows, r.window_start = {}, now
        return change

    def _decide(self, room: str, r: _Room, now: float) -> Change | None:
        speaking = {user: w.mean() for user, w in r.windows.items() if w.speaking()}
        loudest = max(speaking, key=speaking.__getitem__, default=None)
        for incumbent in (r.candidate, r.current):
            if loudest is not None and incumbent is not None and incumbent in speaking:
                if speaking[loudest] - speaking[incumbent] < MARGIN_DB:
                    loudest = incumbent
                break
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
            r.windows.pop(user_id, None)
            if r.candidate == user_id:
                r.candidate = None
            if r.current == user_id:
                r.current = None
                out.append(Change(room, None))
        return out
