"""The one module that reaches below the public APIs of aiortc and aioice.

Built on aiortc 1.16.0 and aioice 0.13 (pinned in pyproject.toml; the
`tests/test_media_units.py` tests fail loudly if a new version moves these
internals). Everything else in `media/` uses public API only.

- `tap`: an `RTCRtpReceiver` reassembles each encoded frame in its jitter
  buffer and puts `(codec, frame)` on a queue read by its decoder thread. We
  swap that queue, before `receive()` starts the thread, for one that hands the
  frame to the SFU and tells the thread to finish at once: no decoder is ever
  created and no thread stays behind.
- `request_keyframe`: send an RTCP PLI to the publisher of a receiver.
- stall breaking: aiortc's video jitter buffer releases frames in sequence
  order and asks for a lost packet once (NACK); if that packet never comes it
  waits until 512 packets pile up, seconds of frozen video for every
  subscriber. `tap` watches for a head-of-line gap older than `STALL_MS` and
  skips past it; the SFU then waits for (and asks for) a keyframe.
- `restart_reassembly`: a receiver whose m-line went inactive dropped the
  packets in flight at that moment; its jitter buffer would wait for them
  (hundreds of packets) when the m-line comes back. Start it afresh instead.
- `keyframe_wanted`: a subscriber's PLI/FIR sets a flag on our `RTCRtpSender`
  that only its encoder reads; a sender fed with packets has no encoder, so we
  read and clear the flag ourselves and ask the publisher instead.
- `gather_on`: aioice offers no option to choose the addresses it gathers host
  candidates on (and it skips 127.0.0.1); we replace its address lookup.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aioice.ice
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterBuffer

log = logging.getLogger(__name__)

_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_DECODER_THREAD = "_RTCRtpReceiver__decoder_thread"
_FORCE_KEYFRAME = "_RTCRtpSender__force_keyframe"
_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
_NACK_GENERATOR = "_RTCRtpReceiver__nack_generator"


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded frame as the publisher sent it (bytes are never re-encoded)."""

    data: bytes
    timestamp: int
    """RTP clock units from the receiver's first frame."""
    clock_rate: int
    mime: str
    keyframe: bool


FrameSink = Callable[[EncodedFrame], None]
LevelSink = Callable[[int], None]
"""Audio level of one packet in -dBov: 0 is loudest, 127 is silence (RFC 6464)."""


class Unsupported(RuntimeError):
    """The installed aiortc does not have the internals this module was written for."""


def is_keyframe(mime: str, data: bytes) -> bool:
    """Whether a decoder can start at this frame."""
    kind, _, name = mime.lower().partition("/")
    if kind == "audio":
        return True
    if name == "vp8":
        # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for key frames.
        return bool(data) and data[0] & 0x01 == 0
    if name == "h264":
        return _has_idr(data)
    return False


def _has_idr(data: bytes) -> bool:
    """Annex B stream (as aiortc depayloads it) holding an IDR slice or a sequence header."""
    pos = data.find(b"\x00\x00\x01")
    while pos != -1 and pos + 3 < len(data):
        if data[pos + 3] & 0x1F in (5, 7):
            return True
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return False


class _Diverter(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue: frames go to the SFU, not the decoder."""

    def __init__(self, sink: FrameSink) -> None:
        super().__init__()
        self._sink = sink

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        return None  # the decoder thread's first read says "stop": it ends at once

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # the receiver stopping; its thread has already ended
            return
        codec, frame = item
        mime = str(codec.mimeType)
        data = bytes(frame.data)
        try:
            self._sink(
                EncodedFrame(data, frame.timestamp, codec.clockRate, mime, is_keyframe(mime, data))
            )
        except Exception:
            log.exception("forwarding an encoded %s frame failed", mime)


def tap(
    receiver: RTCRtpReceiver,
    on_frame: FrameSink,
    on_level: LevelSink | None = None,
    on_gap: Callable[[], None] | None = None,
) -> None:
    """Take the encoded frames of a receiver that has not started yet, bypassing its decoder.

    `on_level` gets each audio packet's level; `on_gap` is called when video
    reassembly skipped a lost packet (the next frames need a keyframe).
    """
    if not hasattr(receiver, _DECODER_QUEUE) or not hasattr(receiver, _DECODER_THREAD):
        raise Unsupported("RTCRtpReceiver has no decoder queue to tap")
    if getattr(receiver, _DECODER_THREAD) is not None:
        raise Unsupported("the receiver has already started its decoder")
    if not isinstance(getattr(receiver, _JITTER_BUFFER, None), JitterBuffer):
        raise Unsupported("RTCRtpReceiver has no jitter buffer")
    setattr(receiver, _DECODER_QUEUE, _Diverter(on_frame))
    if on_level is not None or on_gap is not None:
        _observe(receiver, on_level, StallWatch(receiver, on_gap) if on_gap else None)


def _observe(
    receiver: RTCRtpReceiver, on_level: LevelSink | None, watch: StallWatch | None
) -> None:
    handle: Callable[[Any, int], Awaitable[None]] = receiver._handle_rtp_packet

    async def observed(packet: Any, arrival_time_ms: int) -> None:
        level = packet.extensions.audio_level
        if level is not None and on_level is not None:
            on_level(int(level[1]))
        await handle(packet, arrival_time_ms)
        if watch is not None:
            watch.check(arrival_time_ms)

    receiver._handle_rtp_packet = observed  # type: ignore[method-assign]


STALL_MS = 300
"""How long reassembly may wait for one missing packet (a NACK round trip and more)."""


class StallWatch:
    """Notices a jitter buffer stuck behind a packet that is not coming, and skips it."""

    def __init__(self, receiver: RTCRtpReceiver, on_gap: Callable[[], None]) -> None:
        self._receiver = receiver
        self._on_gap = on_gap
        self._origin: int | None = None
        self._since = 0

    def check(self, now_ms: int) -> None:
        buffer: JitterBuffer = getattr(self._receiver, _JITTER_BUFFER)
        if buffer._origin != self._origin:
            self._origin, self._since = buffer._origin, now_ms
        elif now_ms - self._since >= STALL_MS and skip_gap(buffer):
            self._origin, self._since = buffer._origin, now_ms
            self._on_gap()


def skip_gap(buffer: JitterBuffer) -> bool:
    """Drop a jitter buffer's packets up to its first gap, and the partial frame behind it."""
    origin, size, packets = buffer._origin, buffer.capacity, buffer._packets
    if origin is None:
        return False
    held = [packets[(origin + i) % size] for i in range(size)]
    gap = next((i for i, p in enumerate(held) if p is None), None)
    if gap is None:
        return False
    after = next((i for i in range(gap + 1, size) if held[i] is not None), None)
    if after is None:
        return False
    stamp = held[after].timestamp  # type: ignore[union-attr]
    end = after
    while end < size and (p := held[end]) is not None and p.timestamp == stamp:
        end += 1
    buffer.remove(end)
    return True


def is_tapped(receiver: RTCRtpReceiver) -> bool:
    return isinstance(getattr(receiver, _DECODER_QUEUE, None), _Diverter)


async def request_keyframe(receiver: RTCRtpReceiver) -> bool:
    """Send a PLI for the stream this receiver gets; False if it has seen no stream yet."""
    sources = receiver.getSynchronizationSources()
    if not sources:
        return False
    newest = max(sources, key=lambda s: s.timestamp)
    await receiver._send_rtcp_pli(newest.source)
    return True


def restart_reassembly(receiver: RTCRtpReceiver) -> None:
    """Forget partial frames and missing packets: reassembly starts at the next packet."""
    old = getattr(receiver, _JITTER_BUFFER, None)
    if not isinstance(old, JitterBuffer):
        raise Unsupported("RTCRtpReceiver has no jitter buffer to restart")
    fresh = JitterBuffer(capacity=old.capacity, prefetch=old._prefetch, is_video=old._is_video)
    setattr(receiver, _JITTER_BUFFER, fresh)
    nacks = getattr(receiver, _NACK_GENERATOR, None)
    if nacks is not None:
        nacks.max_seq = None
        nacks.missing.clear()


def keyframe_wanted(sender: RTCRtpSender) -> bool:
    """Whether the subscriber asked this sender for a keyframe since the last call."""
    wanted = bool(getattr(sender, _FORCE_KEYFRAME, False))
    if wanted:
        setattr(sender, _FORCE_KEYFRAME, False)
    return wanted


def gather_on(addresses: Sequence[str]) -> None:
    """Gather ICE host candidates on exactly these local addresses (process-wide)."""
    pinned = list(addresses)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in pinned if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    if not callable(getattr(aioice.ice, "get_host_addresses", None)):
        raise Unsupported("aioice has no host address lookup to replace")
    aioice.ice.get_host_addresses = host_addresses
