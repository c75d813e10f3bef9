"""Sender reports of every subscriber stream on one event loop, sent together.

aiortc gives each sender a task that sleeps a random 0.5 to 1.5 s between
reports: with a few hundred subscriber streams the process wakes a few
hundred times a second for them, and each report goes through four
coroutines. A measured third of an idle subscriber's cost, a tenth of a
forwarding one's. Here one task wakes once an interval and sends them all
(`BATCH` at a wakeup at most, the rest spread over the interval).
RFC 3550 randomizes the interval so that a multicast group's members do not
report in step; the far end of each of these streams is one peer, so
nothing is lost by sending them together.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable

from aiortc.rtp import RtcpSdesPacket, RtcpSenderInfo, RtcpSourceInfo, RtcpSrPacket

log = logging.getLogger(__name__)

Figures = Callable[[], tuple[int, int, int, int] | None]
"""(NTP time, RTP timestamp, packets, octets) of a stream for its next report; None: skip it."""


class Reporter:
    """One stream's sender report (SR and SDES CNAME), filled with what was really sent."""

    def __init__(self, figures: Figures) -> None:
        self._figures = figures
        self._ssrc = 0
        self._sdes = b""
        self._send: Callable[[bytes], int] | None = None

    def started(self, ssrc: int, cname: str | None, send: Callable[[bytes], int]) -> None:
        """The stream is negotiated: its SSRC, CNAME, and how to send RTCP on it."""
        self._ssrc, self._send = ssrc, send
        if cname is not None:
            chunk = RtcpSourceInfo(ssrc=ssrc, items=[(1, cname.encode("utf8"))])
            self._sdes = bytes(RtcpSdesPacket(chunks=[chunk]))

    def send(self) -> None:
        figures = self._figures()
        if self._send is None or figures is None:
            return
        ntp, stamp, count, octets = figures
        info = RtcpSenderInfo(ntp, stamp, count & 0xFFFFFFFF, octets & 0xFFFFFFFF)
        self._send(bytes(RtcpSrPacket(ssrc=self._ssrc, sender_info=info)) + self._sdes)


REPORT_INTERVAL_S = 1.0
"""Between two sender reports of a stream (aiortc's mean; a browser's is about the same)."""
BATCH = 64
"""Reports sent at one wakeup at most; more are spread over the interval (a burst of
thousands would hold up the media for tens of milliseconds)."""


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
            senders = list(self._senders)
            turns = max(1, -(-len(senders) // BATCH))
            for turn in range(turns):
                await asyncio.sleep(self.interval / turns)
                for send in senders[turn::turns]:
                    if send in self._senders:  # not gone meanwhile
                        self._send(send)

    def _send(self, send: Callable[[], None]) -> None:
        try:
            send()
        except Exception:  # one stream's report must not stop the others'
            log.exception("a sender report could not be sent")
