"""The background tasks a component owns.

asyncio keeps only a weak reference to a task: one nobody holds may vanish
mid-way. A component spawns its tasks here, which holds each until it is
done, and cancels or awaits what is left when the component closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


async def every(period_s: float, work: Callable[[], None], what: str) -> None:
    """Run `work` every `period_s` seconds until cancelled; a round that fails is
    logged and the next one runs all the same."""
    while True:
        await asyncio.sleep(period_s)
        try:
            work()
        except Exception:
            log.exception("%s: a round failed", what)


class TaskSet:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()

    def spawn(self, work: Awaitable[T]) -> asyncio.Future[T]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def wait(self) -> None:
        """Until every task spawned so far has ended (their errors are theirs to log)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def __iter__(self) -> Iterator[asyncio.Future[Any]]:
        return iter(list(self._tasks))

    def __len__(self) -> int:
        return len(self._tasks)


class OneAtATime(Generic[T]):
    """`work(key)` run once at a time per key: who asks meanwhile waits for the same
    run (a class or a stream loads once, however many sockets arrive together)."""

    def __init__(self, work: Callable[[str], Awaitable[T]]) -> None:
        self.work = work
        self._running: dict[str, asyncio.Task[T]] = {}

    async def __call__(self, key: str) -> T:
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(self.work(key))
            self._running[key] = running
            running.add_done_callback(lambda _: self._running.pop(key, None))
        # Shielded: a caller that gives up does not cancel the others' load.
        return await asyncio.shield(running)
