"""A recording's stream driven like the runtime drives it: a fake clock, counted ids."""

from __future__ import annotations

import itertools

from classroom import events as e
from classroom.commands import Command
from classroom.live import Context
from classroom.replay import RecordedPoll, Recording, Replay
from classroom.roles import ReplayRole
from tests.domain import FakeClock

QUIZ = RecordedPoll(
    "quiz",
    60_000,
    "Which shape has three sides?",
    "single",
    ["Triangle", "Square"],
    quiz=True,
    correct=[0],
    live=e.PollResults(kind="single", counts=[7, 3], total=10, voters=10),
)
"""A quiz question the host published in class."""
UNPUBLISHED = RecordedPoll(
    "unpub", 120_000, "Is zero even?", "truefalse", ["True", "False"], quiz=True, live=None
)
"""A quiz question never published in class: no answer key in the replay."""
WORDS = RecordedPoll(
    "words",
    180_000,
    "One word for light?",
    "text",
    anonymous=True,
    live=e.PollResults(kind="text", words=[("wave", 2)], total=2, voters=2),
)
RATING = RecordedPoll("rate", 240_000, "How clear?", "rating", min=1, max=5)

RECORDING = Recording("rec1", "c1", "Geometry", 600_000, [QUIZ, UNPUBLISHED, WORDS, RATING])


class StreamHarness:
    def __init__(self, recording: Recording = RECORDING) -> None:
        self.stream = Replay(recording)
        self.clock = FakeClock()
        self._ids = itertools.count(1)
        self.history: list[e.Event] = []

    def ctx(self) -> Context:
        return Context(self.clock.now, lambda: f"q{next(self._ids)}")

    def commit(self, drafts: list[e.Event]) -> list[e.Event]:
        stamped = self.stream.commit(drafts, self.clock.now)
        self.history.extend(stamped)
        return stamped

    def visit(self, user_id: str, role: ReplayRole = "viewer") -> list[e.Event]:
        return self.commit(self.stream.visit(user_id, user_id.title(), role))

    def do(self, user_id: str, cmd: Command) -> list[e.Event]:
        return self.commit(self.stream.handle(user_id, cmd, self.ctx()))
