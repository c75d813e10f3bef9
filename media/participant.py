"""One participant's media on this node: a `pub` and a `sub` connection and their tasks.

`pub` is an `RTCPeerConnection` here, answered: the client offers what it
sends, and each of its receivers is tapped (`media.encoded.tap`) into a
`Feed`. `sub` is a `Downlink` (here, or in a media worker) offered by the
SFU: one sending m-line per slot, each slot bound to the feed of one track
the participant receives (of the layer it shows), or idle (`inactive`)
until reused. The participant keeps what each slot is bound to, and what it
said it shows (`rtc:view`). Every task a participant starts is its
own, so leaving cancels them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCRtpReceiver

from classroom.commands import Layer
from media.downlink import Downlink
from media.encoded import request_keyframe, restart_reassembly, tap
from media.tracks import Feed, Tally

log = logging.getLogger(__name__)

LevelSink = Callable[[Feed, int], None]


@dataclass
class Binding:
    """One slot of the `sub` connection: its kind and codec, and the feed it carries."""

    kind: str
    mime: str
    feed: Feed | None = None


class Participant:
    def __init__(
        self,
        user_id: str,
        room: str,
        sid: str,
        config: RTCConfiguration,
        tally: Tally,
    ) -> None:
        self.user_id = user_id
        self.room = room
        self.sid = sid
        """The socket this media belongs to; a newer socket of the same user starts afresh."""
        self.pub: RTCPeerConnection | None = None
        self.sub: Downlink | None = None
        self.pub_lock = asyncio.Lock()
        self.sub_lock = asyncio.Lock()
        self.taps: dict[str, Feed] = {}
        """pub mid -> the feed its receiver is tapped into (published or not)."""
        self.published: dict[str, str] = {}
        """pub mid -> published track id."""
        self.lows: dict[str, str] = {}
        """pub mid -> the track id it is the low layer of."""
        self.slots: list[Binding] = []
        self.bound: dict[str, int] = {}
        """track id -> the slot that sends it to this participant."""
        self.sub_mids: dict[str, int] = {}
        """sub mid -> slot, as the latest offer says."""
        self.unsubscribed: set[str] = set()
        self.view: dict[str, Layer] | None = None
        """The video tracks shown and at which layer (`rtc:view`); None: all, in full."""
        self.audio_only = False
        self.dirty = False
        self.renew = False
        """The next offer starts a new `sub` connection (the previous one was lost)."""
        self.offered: tuple[tuple[int, str], ...] = ()
        self.offers = 0
        self.closed = False
        self._config = config
        self._tally = tally
        self.downlinks: Callable[[], Downlink] | None = None
        """Opens the `sub` connection (set by the SFU)."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._syncing: asyncio.Task[Any] | None = None

    # -- tasks ----------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("media task of %s failed", self.user_id, exc_info=task.exception())

    def sync_running(self) -> bool:
        return self._syncing is not None and not self._syncing.done()

    def start_sync(self, work: Coroutine[Any, Any, Any]) -> None:
        self._syncing = self.spawn(work)

    @property
    def tasks(self) -> set[asyncio.Task[Any]]:
        return set(self._tasks)

    # -- pub ------------------------------------------------------------------

    def open_pub(self, on_level: LevelSink) -> RTCPeerConnection:
        pc = RTCPeerConnection(self._config)

        def on_track(track: MediaStreamTrack) -> None:
            for transceiver in pc.getTransceivers():
                if transceiver.receiver.track is track and transceiver.mid is not None:
                    self._tap(transceiver.mid, track.kind, transceiver.receiver, on_level)

        pc.on("track", on_track)
        self.pub = pc
        return pc

    def _tap(self, mid: str, kind: str, receiver: RTCRtpReceiver, on_level: LevelSink) -> None:
        feed = Feed(kind, lambda: self._ask_keyframe(receiver), tally=self._tally)
        level = (lambda value: on_level(feed, value)) if kind == "audio" else None
        tap(
            receiver,
            feed.push_frame,
            on_packet=feed.receive,
            on_level=level,
            on_gap=feed.lost if kind == "video" else None,
            on_report=feed.sender_report,
        )
        self.taps[mid] = feed

    def restart(self, mid: str) -> None:
        """Reassemble a resumed m-line from its next packet on."""
        assert self.pub is not None
        for transceiver in self.pub.getTransceivers():
            if transceiver.mid == mid:
                restart_reassembly(transceiver.receiver)

    def _ask_keyframe(self, receiver: RTCRtpReceiver) -> None:
        if not self.closed:
            self.spawn(request_keyframe(receiver))

    async def close_pub(self) -> None:
        pc, self.pub = self.pub, None
        for feed in self.taps.values():
            feed.close()
        self.taps.clear()
        self.published.clear()
        self.lows.clear()
        if pc is not None:
            await pc.close()

    def sent(self) -> dict[str, str]:
        """pub mid -> the track id it carries, a track's own m-line or its low layer."""
        return self.published | self.lows

    # -- sub ------------------------------------------------------------------

    def shows(self, track_id: str) -> Layer | None:
        """Which layer of a video track this participant receives, if any."""
        if self.audio_only:
            return None
        if self.view is None:
            return "high"
        return self.view.get(track_id)

    def open_sub(self) -> Downlink:
        if self.sub is None:
            assert self.downlinks is not None
            self.sub = self.downlinks()
        return self.sub

    def slot_for(self, feed: Feed) -> int:
        """An idle slot of the feed's kind and codec, or a new one."""
        for index, binding in enumerate(self.slots):
            if binding.feed is None and binding.kind == feed.kind and binding.mime == feed.mime:
                return index
        index = self.open_sub().add_slot(feed.kind, feed.mime)
        self.slots.append(Binding(feed.kind, feed.mime))
        return index

    def bind(self, index: int, feed: Feed | None) -> None:
        self.slots[index].feed = feed
        if self.sub is not None:
            self.sub.bind(index, feed)

    def layout(self) -> tuple[tuple[int, str], ...]:
        """What the next offer would say: each slot and the track it carries."""
        tracks = {index: track_id for track_id, index in self.bound.items()}
        return tuple((index, tracks.get(index, "")) for index in range(len(self.slots)))

    def mids(self) -> dict[str, str]:
        tracks = {index: track_id for track_id, index in self.bound.items()}
        return {mid: tracks[index] for mid, index in self.sub_mids.items() if index in tracks}

    def sub_lost(self) -> None:
        """The `sub` connection is gone: start a new one (the next offer says so)."""
        self.sub = None
        self.slots.clear()
        self.bound.clear()
        self.sub_mids.clear()
        self.offered = ()
        self.renew = True

    # -- the end --------------------------------------------------------------

    def peer_connections(self) -> int:
        return (self.pub is not None) + (self.sub is not None)

    async def close(self) -> None:
        """Close both connections and cancel every task this participant started."""
        self.closed = True
        current = asyncio.current_task()
        pending = [t for t in self._tasks if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for binding in self.slots:
            binding.feed = None
        self.bound.clear()
        await self.close_pub()
        sub, self.sub = self.sub, None
        if sub is not None:
            await sub.close()
