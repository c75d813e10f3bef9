"""The breakout clock of one class: the one-minute warning and the automatic close.

The domain says when something is next due (`deadline`) and what it is
(`due`); this task sleeps until then and commits those events as the server.
It is rebuilt from the state when a class is loaded, so rooms still close on
time after a restart, and it stops when the class unloads.
"""

from __future__ import annotations

import asyncio
import logging

from classroom import breakouts
from classroom import events as e
from signaling.runtime import ClassRuntime

log = logging.getLogger(__name__)

_RESCHEDULE = (
    e.BreakoutOpened,
    e.BreakoutExtended,
    e.BreakoutWarning,
    e.BreakoutClosing,
    e.BreakoutClosed,
    e.ClassEnded,
)


class BreakoutTimer:
    def __init__(self, runtime: ClassRuntime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @classmethod
    def attach(cls, runtime: ClassRuntime) -> BreakoutTimer:
        """Follow the class's events and start at once if its rooms are already timed."""
        timer = cls(runtime)
        runtime.listen(timer.on_event)
        runtime.on_close(timer.cancel)
        timer.poke()
        return timer

    def deadline(self) -> int | None:
        room = self.runtime.room
        return breakouts.deadline(room.breakouts, room.live)

    async def on_event(self, ev: e.Event) -> None:
        if isinstance(ev, _RESCHEDULE):
            self.poke()

    def poke(self) -> None:
        """The deadline may have moved: wake the running task, or start one."""
        if self._task is not None and not self._task.done():
            self._changed.set()
        elif self.deadline() is not None:
            self._task = asyncio.create_task(self._run())

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while (deadline := self.deadline()) is not None:
            self._changed.clear()
            delay = max(0, deadline - self.runtime.clock()) / 1000
            try:
                async with asyncio.timeout(delay):
                    await self._changed.wait()
                continue  # something moved the deadline: look again
            except TimeoutError:
                pass
            room = self.runtime.room
            drafts = breakouts.due(room.breakouts, room.live, self.runtime.clock())
            try:
                await self.runtime.commit(drafts)
            except Exception:
                log.exception("class %s: breakout timer could not commit", self.runtime.class_id)
                return
