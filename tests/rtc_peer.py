"""A participant's media client for functional tests: real aiortc peer connections.

`RtcClient` drives a `pub` connection (it offers with `rtc:publish`) and a
`sub` connection (it answers each `rtc:offer`) over a `tests.peer.Peer`, and
consumes what it receives: decoding with aiortc's own receiver, or, with
`tap=True`, keeping the encoded frames as they arrive (no decoder).
Sources are small and cheap: a moving test pattern and a tone.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import av
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError

from media.encoded import EncodedFrame, tap
from media.packets import vp8_start
from tests.peer import WAIT_S, Peer


def config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])  # never ask a public STUN server


class Pattern(VideoStreamTrack):
    """Small frames of a moving gradient (real content for the encoder, cheap to make)."""

    def __init__(self, width: int = 160, height: int = 120) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._ramp = bytes(range(256)) * (width * height // 256 + 2)
        self.count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(width=self.width, height=self.height, format="yuv420p")
        shift = (self.count * 3) % 256
        for i, plane in enumerate(frame.planes):
            size = plane.buffer_size
            plane.update(self._ramp[shift : shift + size] if i == 0 else bytes([128]) * size)
        frame.pts, frame.time_base = pts, time_base
        self.count += 1
        return frame


class Tone(AudioStreamTrack):
    """A loud 400 Hz tone at 48 kHz: the audio level header says someone is speaking."""

    RATE = 48000
    SAMPLES = 960

    def __init__(self, amplitude: float = 0.5) -> None:
        super().__init__()
        wave = array.array(
            "h",
            (
                int(amplitude * 32767 * math.sin(2 * math.pi * 400 * i / self.RATE))
                for i in range(self.SAMPLES)
            ),
        )
        self._samples = wave.tobytes()
        self._sent = 0
        self._start = 0.0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._sent:
            wait = self._start + self._sent * self.SAMPLES / self.RATE - time.time()
            await asyncio.sleep(max(wait, 0))
        else:
            self._start = time.time()
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        frame.planes[0].update(self._samples)
        frame.sample_rate = self.RATE
        frame.pts = self._sent * self.SAMPLES
        frame.time_base = fractions.Fraction(1, self.RATE)
        self._sent += 1
        return frame


class Encoded(MediaStreamTrack):
    """Sends VP8 packets encoded up front, so a test knows every byte that was published."""

    kind = "video"

    def __init__(self, frames: int = 60, gop: int = 10) -> None:
        super().__init__()
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height, codec.pix_fmt = 160, 120, "yuv420p"
        codec.time_base = fractions.Fraction(1, 30)
        codec.gop_size = gop
        codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        source = Pattern()
        self.packets: list[bytes] = []
        for n in range(frames):
            frame = av.VideoFrame(width=160, height=120, format="yuv420p")
            shift = (n * 7) % 256
            for i, plane in enumerate(frame.planes):
                size = plane.buffer_size
                plane.update(source._ramp[shift : shift + size] if i == 0 else bytes([90]) * size)
            frame.pts = n
            self.packets += [bytes(p) for p in codec.encode(frame)]
        self.packets += [bytes(p) for p in codec.encode(None)]
        self._sent = 0
        self._start = 0.0

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if self._sent:
            await asyncio.sleep(max(self._start + self._sent / 30 - time.time(), 0))
        else:
            self._start = time.time()
        packet = av.Packet(self.packets[self._sent % len(self.packets)])
        packet.pts = self._sent * 3000
        packet.time_base = fractions.Fraction(1, 90000)
        self._sent += 1
        return packet


class Received:
    """What arrives on one m-line of the `sub` connection."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.frames = 0
        self.sizes: set[tuple[int, int]] = set()
        self.size: tuple[int, int] | None = None
        """The latest decoded frame's."""
        self.encoded: list[bytes] = []
        self.starts: list[bool] = []
        """With tap=True, video: whether each packet received starts a keyframe."""


class RtcClient:
    def __init__(self, peer: Peer, tap: bool = False) -> None:
        self.peer = peer
        self.tap = tap
        self.pub: RTCPeerConnection | None = None
        self.sub: RTCPeerConnection | None = None
        self.mids: dict[str, str] = {}
        """sub mid -> track id, from the latest offer."""
        self.by_mid: dict[str, Received] = {}
        self.by_track: dict[str, int] = defaultdict(int)
        """Frames received per track id (decoded, or encoded with tap=True)."""
        self.answers = 0
        self.renewed = 0
        """Offers that started a new sub connection."""
        self._changed = asyncio.Event()
        self._answering = asyncio.Lock()
        """Offers are answered one at a time, in the order they came."""
        self._tasks: set[asyncio.Task[Any]] = set()
        peer.sio.on("rtc:offer", self._on_offer)

    # -- publishing -----------------------------------------------------------

    async def publish(
        self,
        *tracks: MediaStreamTrack,
        sources: list[str] | None = None,
        layers: list[str | None] | None = None,
        extra: Any = None,
    ) -> Any:
        """Add tracks to `pub` and (re)negotiate; returns the ack. `layers`: "low" for a
        track that is the low layer of its source's video."""
        first = self.pub is None
        pc = self.pub = self.pub or RTCPeerConnection(config())
        added = [pc.addTransceiver(t, direction="sendonly") for t in tracks]
        await pc.setLocalDescription(await pc.createOffer())
        body: dict[str, Any] = {"sdp": pc.localDescription.sdp, "type": "offer"}
        if sources is not None:
            body["sources"] = {t.mid: s for t, s in zip(added, sources, strict=True)}
        if layers is not None:
            named = zip(added, layers, strict=True)
            body["layers"] = {t.mid: layer for t, layer in named if layer is not None}
        if extra is not None:
            body |= extra
        ack = await self.peer.call("rtc:publish", body)
        if ack.get("ok"):
            await pc.setRemoteDescription(RTCSessionDescription(ack["sdp"], ack["type"]))
        elif first:
            await pc.close()
            self.pub = None
        return ack

    async def stop_sending(self, track: MediaStreamTrack) -> Any:
        """Stop sending one track (its m-line goes inactive) and renegotiate."""
        assert self.pub is not None
        for transceiver in self.pub.getTransceivers():
            if transceiver.sender.track is track:
                transceiver.direction = "inactive"
        return await self.publish()

    async def resume_sending(self, track: MediaStreamTrack) -> Any:
        """Send a stopped track again on its own m-line (as browsers reuse transceivers)."""
        assert self.pub is not None
        for transceiver in self.pub.getTransceivers():
            if transceiver.sender.track is track:
                transceiver.direction = "sendonly"
        return await self.publish()

    # -- receiving ------------------------------------------------------------

    async def _on_offer(self, data: Any) -> None:
        await self.peer._record("rtc:offer", data)
        task = asyncio.create_task(self._answer(data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, data: Any) -> None:
        async with self._answering:
            await self._answer_one(data)

    async def _answer_one(self, data: Any) -> None:
        if data.get("renew") and self.sub is not None:
            # The server lost our sub connection (its media worker died): start a new one.
            old, self.sub = self.sub, None
            self.renewed += 1
            await old.close()
        if self.sub is None:
            self.sub = RTCPeerConnection(config())
            self.sub.on("track", self._on_track)
        self.mids = dict(data["mids"])
        await self.sub.setRemoteDescription(RTCSessionDescription(data["sdp"], data["type"]))
        await self.sub.setLocalDescription(await self.sub.createAnswer())
        ack = await self.peer.call(
            "rtc:answer", {"sdp": self.sub.localDescription.sdp, "type": "answer"}
        )
        assert ack == {"ok": True}, ack
        self.answers += 1
        self._notify()

    def _on_track(self, track: MediaStreamTrack) -> None:
        assert self.sub is not None
        transceiver = next(t for t in self.sub.getTransceivers() if t.receiver.track is track)
        mid = str(transceiver.mid)
        got = self.by_mid[mid] = Received(track.kind)
        if self.tap:
            starts = (
                (lambda p: got.starts.append(vp8_start(p.payload)[0]))
                if got.kind == "video"
                else None
            )
            tap(transceiver.receiver, lambda f: self._encoded(mid, got, f), on_packet=starts)
            return
        task = asyncio.create_task(self._consume(mid, got, track))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _encoded(self, mid: str, got: Received, frame: EncodedFrame) -> None:
        got.encoded.append(frame.data)
        self._count(mid, got)

    async def _consume(self, mid: str, got: Received, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    got.size = (frame.width, frame.height)
                    got.sizes.add(got.size)
                self._count(mid, got)
        except MediaStreamError:
            pass

    def _count(self, mid: str, got: Received) -> None:
        got.frames += 1
        track_id = self.mids.get(mid)
        if track_id is not None:
            self.by_track[track_id] += 1
        self._notify()

    def _notify(self) -> None:
        self._changed.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until `condition()` holds, re-checking whenever media or signaling arrives."""
        async with asyncio.timeout(WAIT_S):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def frames_of(self, track_id: str, count: int) -> None:
        start = self.by_track[track_id]
        await self.until(lambda: self.by_track[track_id] >= start + count)

    def sending(self) -> set[str]:
        """Track ids the latest offer says are sent to us."""
        return set(self.mids.values())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pc in (self.pub, self.sub):
            if pc is not None:
                await pc.close()
        self.pub = self.sub = None
