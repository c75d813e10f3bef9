"""Poll timers: the server closes a poll when its `duration_s` runs out.

The domain knows when a poll is due (`ends_at`, stamped when it opened) and
what closing it means (`Polls.expire`); this side only waits and commits the
close as the server. Timers are re-armed from the state when a class is
loaded, so a poll still closes on time (or at once, if overdue) after a
restart, and they stop when the class unloads.
"""

from __future__ import annotations

import asyncio
import logging

from classroom import events as e
from signaling.runtime import ClassRuntime
from signaling.tasks import TaskSet

log = logging.getLogger(__name__)


class PollTimers:
    def __init__(self, runtime: ClassRuntime) -> None:
        self.runtime = runtime
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks = TaskSet()

    @classmethod
    def attach(cls, runtime: ClassRuntime) -> PollTimers:
        """Follow the class's events and arm the timers of polls already open."""
        timers = cls(runtime)
        runtime.listen(timers.on_event)
        runtime.on_close(timers.cancel)
        for poll in runtime.room.polls.polls.values():
            if poll.status == "open" and poll.ends_at is not None:
                timers.arm(poll.id, poll.ends_at)
        return timers

    async def on_event(self, ev: e.Event) -> None:
        match ev:
            case e.PollOpened() if ev.ends_at is not None:
                self.arm(ev.poll_id, ev.ends_at)
            case e.PollClosed():
                handle = self._timers.pop(ev.poll_id, None)
                if handle is not None:
                    handle.cancel()

    def arm(self, poll_id: str, ends_at: int) -> None:
        delay = max(0, ends_at - self.runtime.clock()) / 1000
        self._timers[poll_id] = asyncio.get_running_loop().call_later(delay, self._due, poll_id)

    def cancel(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._tasks.cancel()

    def _due(self, poll_id: str) -> None:
        self._timers.pop(poll_id, None)
        self._tasks.spawn(self._expire(poll_id))

    async def _expire(self, poll_id: str) -> None:
        runtime = self.runtime
        if runtime.failed or runtime.room.ended:
            return
        drafts = runtime.room.polls.expire(poll_id, runtime.clock())
        if not drafts:
            poll = runtime.room.polls.polls.get(poll_id)
            if poll is not None and poll.status == "open" and poll.ends_at is not None:
                self.arm(poll_id, poll.ends_at)  # the loop woke a little early
            return
        try:
            await runtime.commit(drafts)
        except Exception:
            log.exception("class %s: poll %s could not be closed", runtime.class_id, poll_id)
