"""One participant's media on this node: a `pub` and a `sub` peer connection and their tasks.

`pub` is answered: the client offers what it sends, and each of its
receivers is tapped (`media.encoded.tap`) into a `Feed`. `sub` is offered by
the SFU: one sending transceiver per `Slot`, each slot bound to the feed of
one track the participant receives, or idle (`inactive`) until reused.
Every task a participant starts is its own, so leaving cancels them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)

from media.encoded import request_keyframe, restart_reassembly, tap
from media.tracks import Feed, Slot, Tally

log = logging.getLogger(__name__)

LevelSink = Callable[[Feed, int], None]


@dataclass
class Binding:
    slot: Slot
    transceiver: RTCRtpTransceiver


class Participant:
    def __init__(
        self, user_id: str, room: str, sid: str, config: RTCConfiguration, tally: Tally
    ) -> None:
        self.user_id = user_id
        self.room = room
        self.sid = sid
        """The socket this media belongs to; a newer socket of the same user starts afresh."""
        self.pub: RTCPeerConnection | None = None
        self.sub: RTCPeerConnection | None = None
        self.pub_lock = asyncio.Lock()
        self.sub_lock = asyncio.Lock()
        self.taps: dict[str, Feed] = {}
        """pub mid -> the feed its receiver is tapped into (published or not)."""
        self.published: dict[str, str] = {}
        """pub mid -> published track id."""
        self.slots: list[Binding] = []
        self.bound: dict[str, Slot] = {}
        """track id -> the slot that sends it to this participant."""
        self.unsubscribed: set[str] = set()
        self.dirty = False
        self.offered: tuple[tuple[int, str], ...] = ()
        self.offers = 0
        self.closed = False
        self._config = config
        self._tally = tally
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
        if kind == "audio":
            tap(receiver, feed.push, on_level=lambda level: on_level(feed, level))
        else:
            tap(receiver, feed.push, on_gap=feed.lost)
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
        if pc is not None:
            await pc.close()

    # -- sub ------------------------------------------------------------------

    def open_sub(self) -> RTCPeerConnection:
        if self.sub is None:
            self.sub = RTCPeerConnection(self._config)
        return self.sub

    def slot_for(self, feed: Feed) -> Slot:
        """An idle slot of the feed's kind and codec, or a new transceiver for it."""
        for binding in self.slots:
            slot = binding.slot
            if slot.feed is None and slot.kind == feed.kind and slot.mime == feed.mime:
                return slot
        pc = self.open_sub()
        slot = Slot(feed.kind, feed.mime, tally=self._tally)
        transceiver = pc.addTransceiver(slot, direction="sendonly")
        codecs = RTCRtpSender.getCapabilities(feed.kind).codecs
        transceiver.setCodecPreferences(
            [c for c in codecs if c.mimeType.lower() == feed.mime.lower()]
        )
        slot.sender = transceiver.sender
        self.slots.append(Binding(slot, transceiver))
        return slot

    def layout(self) -> tuple[tuple[int, str], ...]:
        """What the next offer would say: each slot and the track it carries."""
        tracks = {id(slot): track_id for track_id, slot in self.bound.items()}
        return tuple((id(b.slot), tracks.get(id(b.slot), "")) for b in self.slots)

    def mids(self) -> dict[str, str]:
        tracks = {id(slot): track_id for track_id, slot in self.bound.items()}
        return {
            b.transceiver.mid: tracks[id(b.slot)]
            for b in self.slots
            if b.transceiver.mid is not None and id(b.slot) in tracks
        }

    # -- the end --------------------------------------------------------------

    def peer_connections(self) -> list[RTCPeerConnection]:
        return [pc for pc in (self.pub, self.sub) if pc is not None]

    async def close(self) -> None:
        """Close both connections and cancel every task this participant started."""
        self.closed = True
        current = asyncio.current_task()
        pending = [t for t in self._tasks if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for binding in self.slots:
            binding.slot.stop()
        self.bound.clear()
        await self.close_pub()
        sub, self.sub = self.sub, None
        if sub is not None:
            await sub.close()
