"""A tiny harness for pure domain tests: a class, a fake clock, counted ids."""

from __future__ import annotations

import itertools

from classroom import events as e
from classroom.aggregate import Classroom
from classroom.commands import Command
from classroom.live import Context
from classroom.roles import Role


class FakeClock:
    def __init__(self, start: int = 1_000_000) -> None:
        self.now = start

    def advance(self, ms: int) -> None:
        self.now += ms


class Harness:
    """Drives a Classroom the way the runtime does: handle, stamp, apply."""

    def __init__(self, title: str = "Class") -> None:
        self.room = Classroom()
        self.clock = FakeClock()
        self._ids = itertools.count(1)
        self.history: list[e.Event] = []
        self.commit(self.room.create("c1", title, "sfu"))

    def ctx(self) -> Context:
        return Context(self.clock.now, lambda: f"id{next(self._ids)}")

    def commit(self, drafts: list[e.Event]) -> list[e.Event]:
        stamped = self.room.commit(drafts, self.clock.now)
        self.history.extend(stamped)
        return stamped

    def join(self, user_id: str, role: Role = "participant") -> list[e.Event]:
        return self.commit(self.room.join(user_id, user_id.title(), role))

    def do(self, user_id: str, cmd: Command) -> list[e.Event]:
        return self.commit(self.room.handle(user_id, cmd, self.ctx()))
