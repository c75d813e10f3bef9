"""Sender reports of every subscriber stream on one event loop, sent together.

aiortc gives each sender a task that sleeps a random 0.5 to 1.5 s between
reports: with a few hundred subscriber streams the process wakes a few
hundred times a second for them, and each report goes through four
coroutines. A measured third of an idle subscriber's cost, a tenth of a
forwarding one's. Here one task wakes once an interval and sends them all.
RFC 3550 randomizes the interval so that a multicast group's members do not
report in step; the far end of each of these streams is one peer, so
nothing is lost by sending them together.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable

log = logging.getLogger(__name__)

REPORT_INTERVAL_S = 1.0
"""Between two sender reports of a stream (aiortc's mean; a browser's is about the same)."""


class Reports:
    """One event loop's: who has a report to send, and the task that sends them."""

    _of_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Reports] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, interval: float = REPORT_INTERVAL_S) -> None:
        self.interval = interval
        self._senders: dict[Callable[[], None], None] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of_loop(cls) -> Reports:
        """The running event loop's."""
        loop = asyncio.get_running_loop()
        found = cls._of_loop.get(loop)
        if found is None:
            found = cls._of_loop[loop] = cls()
        return found

    def __len__(self) -> int:
        return len(self._senders)

    def add(self, send: Callable[[], None]) -> None:
        self._senders[send] = None
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def discard(self, send: Callable[[], None]) -> None:
        self._senders.pop(send, None)
        if not self._senders and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            for send in list(self._senders):
                try:
                    send()
                except Exception:  # one stream's report must not stop the others'
                    log.exception("a sender report could not be sent")
