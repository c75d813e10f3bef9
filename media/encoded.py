"""With `media.wire` (which writes the packets), the one module that reaches below the
public APIs of aiortc and aioice.

Built on aiortc 1.16.0 and aioice 0.13.0 (both pinned exactly in
pyproject.toml; `tests/test_media_internals.py` fails loudly if a new
version moves what is used here). Everything else in `media/` uses public
API only.

Receiving (a publisher's `RTCRtpReceiver`, see `tap`):

- packets: the receiver hands each RTP packet, after unwrapping RTX and
  depayloading, to its jitter buffer. We put a jitter buffer there that
  gives the packet to the SFU first: forwarding starts from the receiver's
  own parsing, NACKs to the publisher and RTX recovery.
- frames: the jitter buffer reassembles encoded frames and the receiver puts
  `(codec, frame)` on a queue read by its decoder thread. We swap that queue,
  before `receive()` starts the thread, for one that hands the frame to the
  SFU's frame readers (the recorder) and tells the thread to finish at once:
  no decoder is ever created and no thread stays behind.
- sender reports: the publisher's RTCP SR maps its RTP clock to wall-clock
  time; we keep it so that subscribers can be given the same mapping.
- stall breaking (reassembly only): aiortc's video jitter buffer waits for a
  lost packet until 512 packets pile up; `StallWatch` skips such a gap after
  `STALL_MS`.
- `request_keyframe`: send an RTCP PLI to the publisher of a receiver.
- `restart_reassembly`: a receiver whose m-line went inactive dropped the
  packets in flight; start its reassembly afresh when it comes back.

Sending (a subscriber's `RTCRtpSender`, see `drive`): the SFU writes the
sender's RTP packets itself. The sender's track never yields a frame, so
aiortc neither encodes nor packetizes; we learn what was negotiated (payload
types, SSRCs, header extension ids, mid) when aiortc calls `send()`, and
whether the m-line sends at all when a negotiation settles its direction
(`on_direction`), have the subscriber's NACK, PLI and FIR read as they
arrive (`media.wire.FeedbackReader`) instead of by the DTLS transport's
task, and send its sender reports (filled with what was really
sent) from the event loop's one report task (`media.reports`) instead of
the sender's own. The SFU's packets go out through `media.wire.Wire`, which
protects each with the connection's SRTP session and sends it on the
selected ICE pair in one call.

`align_consent`: aioice checks each connection's consent (RFC 7675) at its
own random times; a subscriber connection checks at the same instants as
every other of its process, so that they cost one wakeup, not one each.

`gather_on`: aioice offers no option to choose the addresses it gathers host
candidates on (and it skips 127.0.0.1); we replace its address lookup.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aioice
import aioice.ice
import aioice.stun
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtcpByePacket, RtcpSrPacket, RtpPacket

from media.reports import Reporter, Reports
from media.wire import FeedbackReader, Listener, Unsupported, Wire

log = logging.getLogger(__name__)

_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_DECODER_THREAD = "_RTCRtpReceiver__decoder_thread"
_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
_NACK_GENERATOR = "_RTCRtpReceiver__nack_generator"
_RTCP_STARTED = "_RTCRtpSender__rtcp_started"
_RTCP_EXITED = "_RTCRtpSender__rtcp_exited"


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
PacketSink = Callable[[RtpPacket], None]
"""A publisher's packet (RTX unwrapped); `payload` is the RTP payload, never to be changed."""
LevelSink = Callable[[int], None]
"""Audio level of one packet in -dBov: 0 is loudest, 127 is silence (RFC 6464)."""
ReportSink = Callable[[int, int, int], None]
"""A publisher's sender report: (SSRC, NTP time, RTP timestamp)."""


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


# -- receiving ------------------------------------------------------------------------


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


class _Tapped(JitterBuffer):
    """A jitter buffer that shows every packet to the SFU before reassembling it."""

    def __init__(self, like: JitterBuffer, on_packet: PacketSink | None) -> None:
        super().__init__(capacity=like.capacity, prefetch=like._prefetch, is_video=like._is_video)
        self.on_packet = on_packet

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        if self.on_packet is not None:
            try:
                self.on_packet(packet)
            except Exception:
                log.exception("forwarding an RTP packet failed")
        return super().add(packet)


def tap(
    receiver: RTCRtpReceiver,
    on_frame: FrameSink,
    on_packet: PacketSink | None = None,
    on_level: LevelSink | None = None,
    on_gap: Callable[[], None] | None = None,
    on_report: ReportSink | None = None,
) -> None:
    """Take the packets and encoded frames of a receiver that has not started yet.

    `on_level` gets each audio packet's level; `on_gap` is called when frame
    reassembly skipped a lost packet; `on_report` gets the publisher's sender
    reports.
    """
    if not hasattr(receiver, _DECODER_QUEUE) or not hasattr(receiver, _DECODER_THREAD):
        raise Unsupported("RTCRtpReceiver has no decoder queue to tap")
    if getattr(receiver, _DECODER_THREAD) is not None:
        raise Unsupported("the receiver has already started its decoder")
    buffer = getattr(receiver, _JITTER_BUFFER, None)
    if not isinstance(buffer, JitterBuffer):
        raise Unsupported("RTCRtpReceiver has no jitter buffer")
    setattr(receiver, _DECODER_QUEUE, _Diverter(on_frame))
    setattr(receiver, _JITTER_BUFFER, _Tapped(buffer, on_packet))
    if on_level is not None or on_gap is not None:
        _observe(receiver, on_level, StallWatch(receiver, on_gap) if on_gap else None)
    if on_report is not None:
        _reports(receiver, on_report)


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


def _reports(receiver: RTCRtpReceiver, on_report: ReportSink) -> None:
    handle: Callable[[Any], Awaitable[None]] = receiver._handle_rtcp_packet

    async def observed(packet: Any) -> None:
        if isinstance(packet, RtcpSrPacket):
            info = packet.sender_info
            on_report(packet.ssrc, info.ntp_timestamp, info.rtp_timestamp)
        await handle(packet)

    receiver._handle_rtcp_packet = observed  # type: ignore[method-assign]


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
    on_packet = old.on_packet if isinstance(old, _Tapped) else None
    setattr(receiver, _JITTER_BUFFER, _Tapped(old, on_packet))
    nacks = getattr(receiver, _NACK_GENERATOR, None)
    if nacks is not None:
        nacks.max_seq = None
        nacks.missing.clear()


# -- sending --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Negotiated:
    """What a subscriber's connection agreed for one sending m-line."""

    mid: str
    ssrc: int
    payload_type: int
    rtx: tuple[int, int] | None
    """(payload type, SSRC) of the retransmission stream, when RTX was negotiated."""
    extensions: tuple[tuple[int, str], ...]
    """(id, uri) of each negotiated RTP header extension."""


class Writer(Protocol):
    def send(self, head: bytes, payload: bytes = b"") -> int:
        """SENT, or why the packet `head + payload` was dropped: BEHIND (the socket is
        backed up), DOWN (not connected), REFUSED (SRTP would not protect it)."""


class Driver(Listener, Protocol):
    """What `drive` tells the SFU about one sender: its terms, its subscriber's feedback
    (`media.wire.Listener`), and what its sender reports say."""

    def negotiated(self, terms: Negotiated, wire: Writer) -> None: ...
    def report(self) -> tuple[int, int, int, int] | None:
        """(NTP time, RTP timestamp, packets, octets) for the next sender report; None: skip it."""


def drive(sender: RTCRtpSender, driver: Driver) -> None:
    """Write this sender's RTP ourselves: its track must never yield (see the module doc)."""
    for name in ("send", "_handle_rtcp_packet", "_send_rtcp", "_run_rtcp"):
        if not callable(getattr(sender, name, None)):
            raise Unsupported(f"RTCRtpSender has no {name}")
    for name in (_RTCP_STARTED, _RTCP_EXITED):
        if not isinstance(getattr(sender, name, None), asyncio.Event):
            raise Unsupported(f"RTCRtpSender has no {name}")
    send = sender.send
    send_rtcp: Callable[[list[Any]], Awaitable[None]] = sender._send_rtcp
    reporter = Reporter(driver.report)
    heard_on: FeedbackReader | None = None
    """The reader that gives this stream its subscriber's feedback."""
    align_consent(sender.transport.transport._connection)

    async def start(parameters: Any) -> None:
        nonlocal heard_on
        await send(parameters)
        wire = Wire(sender.transport)
        reporter.started(int(sender._ssrc), parameters.rtcp.cname, wire.send_rtcp)
        # The transport it sends on now, as the wire's: BUNDLE may have moved it onto another's.
        if heard_on is not None:
            heard_on.forget(int(sender._ssrc))
        heard_on = FeedbackReader.of(sender.transport)
        heard_on.listen(int(sender._ssrc), driver)
        driver.negotiated(_terms(sender, parameters), wire)

    async def ignored(packet: Any) -> None:
        """RTCP that reached aiortc anyway: none once the feedback reader reads the connection."""

    async def run_rtcp() -> None:
        """In place of aiortc's loop, which sleeps and wakes for each sender's report."""
        getattr(sender, _RTCP_STARTED).set()
        reports = Reports.of_loop()
        reports.add(reporter.send)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass
        finally:
            reports.discard(reporter.send)
            if heard_on is not None:
                heard_on.forget(int(sender._ssrc))
        try:
            await send_rtcp([RtcpByePacket(sources=[sender._ssrc])])
        finally:  # the sender's stop() waits for this
            getattr(sender, _RTCP_EXITED).set()

    sender.send = start  # type: ignore[method-assign]
    sender._handle_rtcp_packet = ignored  # type: ignore[method-assign]
    sender._run_rtcp = run_rtcp  # type: ignore[method-assign]


CONSENT_INTERVAL_S = 5.0
"""Between two consent checks of a connection (RFC 7675: about 5 s)."""
CONSENT_BATCH = 64
CONSENT_SLOTS = 10
"""Connections are given instants in turn, `CONSENT_BATCH` to an instant, among
`CONSENT_SLOTS` evenly spread in the interval: a process of many connections sends a
few dozen checks at once, never all (a burst would hold up the media)."""
_consent_turns = itertools.count()


def align_consent(connection: aioice.Connection, interval: float = CONSENT_INTERVAL_S) -> None:
    """Check this connection's consent (RFC 7675) on the event loop's grid of `interval`.

    aioice sleeps a random 4 to 6 s between one connection's checks, so a
    process with N connections wakes N/5 times a second to send them and
    as often for their answers. Here the connections of a process send
    their checks together, at fixed instants of the loop's clock
    (`CONSENT_BATCH` at most at each): one wakeup for many, and answers
    that come back together. What a check does, and closing after
    `CONSENT_FAILURES` missed ones, is aioice's. A connection whose checks
    have started is left as it is.
    """
    for name in ("build_request", "close", "remote_password", "_nominated", "_query_consent_task"):
        if not hasattr(connection, name):
            raise Unsupported(f"aioice's Connection has no {name}")
    if connection._query_consent_task is not None:
        return

    phase = next(_consent_turns) // CONSENT_BATCH % CONSENT_SLOTS * interval / CONSENT_SLOTS

    async def query_consent() -> None:
        assert connection.remote_password is not None
        key = connection.remote_password.encode("utf8")
        loop = asyncio.get_running_loop()
        due = (loop.time() // interval + 1) * interval + phase
        failures = 0
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            due += interval
            for pair in list(connection._nominated.values()):
                request = connection.build_request(pair, nominate=False)
                try:
                    await pair.protocol.request(
                        request, pair.remote_addr, integrity_key=key, retransmissions=0
                    )
                    failures = 0
                except aioice.stun.TransactionError:
                    failures += 1
                if failures >= aioice.ice.CONSENT_FAILURES:
                    connection._query_consent_task = None
                    await connection.close()
                    return

    connection.query_consent = query_consent  # type: ignore[method-assign]


def on_direction(transceiver: RTCRtpTransceiver, changed: Callable[[bool], None]) -> None:
    """Call `changed(sending)` each time a negotiation settles whether this m-line sends.

    aiortc's sender stops sending by itself while its m-line is inactive; a
    driven sender must be told, or packets go where the far end drops them.
    """
    settle = getattr(transceiver, "_setCurrentDirection", None)
    if not callable(settle):
        raise Unsupported("RTCRtpTransceiver has no current direction to follow")

    def settled(direction: str) -> None:
        settle(direction)
        changed(direction in ("sendonly", "sendrecv"))

    transceiver._setCurrentDirection = settled  # type: ignore[method-assign]


def _terms(sender: RTCRtpSender, parameters: Any) -> Negotiated:
    codecs = list(parameters.codecs)
    main = codecs[0]
    rtx = next(
        (c for c in codecs if is_rtx(c) and c.parameters.get("apt") == main.payloadType), None
    )
    return Negotiated(
        mid=str(parameters.muxId or ""),
        ssrc=int(sender._ssrc),
        payload_type=int(main.payloadType),
        rtx=(int(rtx.payloadType), int(sender._rtx_ssrc)) if rtx is not None else None,
        extensions=tuple((int(e.id), str(e.uri)) for e in parameters.headerExtensions),
    )


def gather_on(addresses: Sequence[str]) -> None:
    """Gather ICE host candidates on exactly these local addresses (process-wide)."""
    pinned = list(addresses)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in pinned if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    if not callable(getattr(aioice.ice, "get_host_addresses", None)):
        raise Unsupported("aioice has no host address lookup to replace")
    aioice.ice.get_host_addresses = host_addresses
