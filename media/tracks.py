"""Forwarding encoded frames: one `Feed` per published track, one `Slot` per subscriber m-line.

A `Feed` receives the publisher's encoded frames (from `media.encoded.tap`)
and offers each to the slots bound to it. A `Slot` is the `MediaStreamTrack`
behind one sending transceiver of a subscriber's `sub` connection: its
`recv()` returns `av.Packet`s, which aiortc's `RTCRtpSender` packetizes with
the codec's `pack()` and never encodes. A slot may be rebound to another feed
(a room move, a new publisher): its timestamps stay monotonic and it waits for
a keyframe of the new stream.

Each slot holds a short bounded queue. A subscriber that falls behind loses
the queued frames and, for video, everything up to the next keyframe (which
it asks the publisher for): a slow reader costs a glitch, never memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCRtpSender
from aiortc.mediastreams import MediaStreamError

from media.encoded import EncodedFrame, keyframe_wanted

log = logging.getLogger(__name__)

DEPTH = {"video": 30, "audio": 25}
"""Frames a slot may hold: about a second of video, half a second of audio."""
STEP = {"video": 3000, "audio": 960}
"""One frame of each kind in RTP clock units, the gap left when a slot switches feeds."""
KEYFRAME_INTERVAL_S = 0.5
"""At most one keyframe request per feed in this interval, however many subscribers ask."""


@dataclass
class Tally:
    """Totals of a node's forwarding, for its metrics (never reset)."""

    frames_in: int = 0
    delivered: int = 0
    dropped: int = 0
    keyframe_requests: int = 0


class Feed:
    """The fan-out of one published track."""

    def __init__(
        self,
        kind: str,
        ask_keyframe: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
        tally: Tally | None = None,
    ) -> None:
        self.kind = kind
        self.tally = tally or Tally()
        self.mime = ""
        """The negotiated codec (`video/VP8`): only slots of the same codec may bind."""
        self.source = ""
        self.track_id = ""
        """Set once published."""
        self.user_id = ""
        self.slots: set[Slot] = set()
        self.sinks: list[Callable[[EncodedFrame], None]] = []
        """Other readers of the same frames (the recorder); they must not raise."""
        self.muted = False
        self.frames = 0
        self.keyframe_requests = 0
        self._ask = ask_keyframe
        self._clock = clock
        self._last_ask = -KEYFRAME_INTERVAL_S

    def push(self, frame: EncodedFrame) -> None:
        self.frames += 1
        self.tally.frames_in += 1
        if self.muted:
            return
        for slot in list(self.slots):
            slot.offer(frame)
        for sink in list(self.sinks):
            sink(frame)

    def want_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most once per interval."""
        if self.kind != "video":
            return
        now = self._clock()
        if now - self._last_ask < KEYFRAME_INTERVAL_S:
            return
        self._last_ask = now
        self.keyframe_requests += 1
        self.tally.keyframe_requests += 1
        self._ask()

    def lost(self) -> None:
        """Frames went missing upstream: every subscriber resumes at the next keyframe."""
        for slot in self.slots:
            slot.restart()
        self.want_keyframe()

    def set_muted(self, muted: bool) -> None:
        if self.muted and not muted:
            for slot in self.slots:
                slot.restart()
        self.muted = muted

    def close(self) -> None:
        for slot in list(self.slots):
            slot.bind(None)


class Slot(MediaStreamTrack):
    """What one subscriber m-line sends: packets of whichever feed it is bound to."""

    def __init__(
        self, kind: str, mime: str, depth: int | None = None, tally: Tally | None = None
    ) -> None:
        super().__init__()
        self.tally = tally or Tally()
        self.kind = kind
        self.mime = mime
        self.feed: Feed | None = None
        self.sender: RTCRtpSender | None = None
        self.delivered = 0
        self.dropped = 0
        self._depth = depth or DEPTH[kind]
        self._queue: deque[EncodedFrame] = deque()
        self._ready = asyncio.Event()
        self._need_key = False
        self._base: int | None = None
        """Timestamp of the current feed that maps to `_offset`."""
        self._offset = 0
        self._last_out = -STEP[kind]
        self._time_base = Fraction(1, 90000 if kind == "video" else 48000)

    # -- binding -------------------------------------------------------------

    def bind(self, feed: Feed | None) -> None:
        if feed is self.feed:
            return
        if self.feed is not None:
            self.feed.slots.discard(self)
        self.feed = feed
        self._queue.clear()
        self._base = None
        self._offset = self._last_out + STEP[self.kind]
        if feed is not None:
            feed.slots.add(self)
            self.restart()

    def restart(self) -> None:
        """Start again at the next keyframe (a new subscriber, an unmute, a loss)."""
        if self.kind == "video":
            self._need_key = True
            if self.feed is not None:
                self.feed.want_keyframe()

    # -- producer side -------------------------------------------------------

    def offer(self, frame: EncodedFrame) -> None:
        if self._need_key and not frame.keyframe:
            self._drop(1)
            if self.feed is not None:
                self.feed.want_keyframe()
            return
        self._need_key = False
        if len(self._queue) >= self._depth:
            # Behind: drop what is queued and, for video, resume at a keyframe.
            self._drop(len(self._queue))
            self._queue.clear()
            if not frame.keyframe:
                self._drop(1)
                self.restart()
                return
        self._queue.append(frame)
        self._ready.set()

    def _drop(self, count: int) -> None:
        self.dropped += count
        self.tally.dropped += count

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- consumer side (the RTCRtpSender) --------------------------------------

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if self.sender is not None and self.feed is not None and keyframe_wanted(self.sender):
            self.feed.want_keyframe()
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
            if self.readyState != "live":
                raise MediaStreamError
        frame = self._queue.popleft()
        return self._packet(frame)

    def _packet(self, frame: EncodedFrame) -> av.Packet[Any]:
        if self._base is None:
            self._base = frame.timestamp
        pts = max(self._offset + frame.timestamp - self._base, self._last_out + 1)
        self._last_out = pts
        packet = av.Packet(frame.data)
        packet.pts = pts
        packet.time_base = self._time_base
        self.delivered += 1
        self.tally.delivered += 1
        return packet

    def stop(self) -> None:
        self.bind(None)
        super().stop()
        self._ready.set()
