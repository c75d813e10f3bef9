"""Forwarding RTP packets: one `Feed` per published track, one `Slot` per subscriber m-line.

A `Feed` gets the publisher's packets (from `media.encoded.tap`, read once by
`packets.Ingest`) and hands each to the slots bound to it, to the media
workers that have such slots (`relays`), and keeps the last ones for
retransmission. It also gets the reassembled frames, for its `sinks` (the
recorder). A `Slot` is one sending m-line of a subscriber's `sub`
connection: it rewrites each packet's header for that stream (SSRC, payload
type, sequence number, timestamp, VP8 picture id, header extensions),
protects it with SRTP and sends it (`wire.Wire`), in the call that
brought the packet: no queue, no task.

A slot may be rebound to another feed (a room move, a new publisher): its
sequence numbers, timestamps and picture ids go on from where they were, and
video waits for a keyframe of the new stream. A subscriber whose socket backs
up (it cannot take what it is sent) loses packets until the next keyframe,
from which it resumes: a slow reader costs a glitch, never memory.

Keyframe requests from subscribers (PLI, FIR, a NACK that the history cannot
answer, a slot waiting to start) go to the feed, which asks its publisher at
most once per `KEYFRAME_INTERVAL_S`; a request within the interval is
remembered and sent when it ends, unless a keyframe came in between.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiortc import MediaStreamTrack, RTCRtpTransceiver
from aiortc.clock import current_ntp_time
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from classroom.commands import Layer
from media import lanes
from media import packets as rtp
from media.encoded import EncodedFrame, Negotiated, Writer, drive, on_direction
from media.lanes import FORM_ROOM, Lane, Lanes
from media.packets import Header, Ingest, Packet
from media.wire import BEHIND, DOWN, SENT

log = logging.getLogger(__name__)

CLOCK = {"video": 90000, "audio": 48000}
HISTORY = 512
"""Video packets a feed keeps for retransmission (seconds of video at camera bitrates)."""
KEYFRAME_INTERVAL_S = 0.5
"""At most one keyframe request per feed in this interval, however many subscribers ask."""


@dataclass
class Tally:
    """Totals of a node's forwarding, for its metrics (never reset)."""

    frames_in: int = 0
    delivered: int = 0
    """Frames sent to subscribers (a video frame counts at its last packet)."""
    dropped: int = 0
    packets: int = 0
    retransmitted: int = 0
    keyframe_requests: int = 0


class Relay(Protocol):
    """A media worker, as a feed sees it (`media.workers.Worker`)."""

    def packet(self, feed: Feed, packet: Packet, resync: bool) -> None:
        """Pass a packet on (`resync`: the worker's slots start again at a keyframe)."""

    def report(self, feed: Feed) -> None:
        """Pass the publisher's latest sender report on."""


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
        self.layer: Layer = "high"
        """Or "low": the small picture of the same track."""
        self.number = 0
        """The node-wide number media workers know this feed by."""
        self.slots: set[Slot] = set()
        self.plain: set[Slot] = set()
        """The slots forwarded in Python; the others are in `lanes` (`media.lanes`)."""
        self.lanes = Lanes()
        self.relays: dict[Any, Relay] = {}
        """The media workers this feed's packets go to (each is its own key)."""
        self.sinks: list[Callable[[EncodedFrame], None]] = []
        """Other readers of the same frames (the recorder); they must not raise."""
        self.muted = False
        self.frames = 0
        self.keyframe_requests = 0
        self.epoch = 0
        """Which publisher stream the packets belong to; slots resync when it changes."""
        self.report: tuple[int, int, int] | None = None
        """(epoch, NTP time, RTP timestamp) from the publisher's latest sender report."""
        self.history: list[Packet | None] = [None] * HISTORY if kind == "video" else []
        self._ingest: Ingest | None = None
        self._ssrc = -1
        self._resync = False
        self._ask = ask_keyframe
        self._clock = clock
        self._last_ask = -KEYFRAME_INTERVAL_S
        self._pending = False

    # -- in ------------------------------------------------------------------------

    def receive(self, packet: RtpPacket) -> None:
        """A publisher's packet, from the receiver's tap."""
        if not self.mime:
            return  # not published yet
        if self._ingest is None or self._ingest.mime != self.mime:
            self._ingest = Ingest(self.mime)
        level = packet.extensions.audio_level
        found = self._ingest.accept(
            packet.ssrc,
            packet.sequence_number,
            packet.timestamp,
            bool(packet.marker),
            packet.payload,
            -1 if level is None else (0x80 if level[0] else 0) | (level[1] & 0x7F),
        )
        self._ssrc = packet.ssrc
        if found is not None:
            self.push(found, self._ingest.epoch)

    def sender_report(self, ssrc: int, ntp: int, stamp: int) -> None:
        if ssrc == self._ssrc:
            self.report = (self.epoch, ntp, stamp)
            for relay in list(self.relays.values()):
                relay.report(self)

    def push(self, packet: Packet, epoch: int, resync: bool = False) -> None:
        """Hand a packet to every subscriber (`resync`: slots start again at a keyframe)."""
        if epoch != self.epoch:
            self.epoch, self.report = epoch, None
            self.history = [None] * len(self.history)
            for slot in self.slots:
                slot.resync()
        if self.muted:
            self._resync = True
            return
        if self.history:
            self.history[packet.seq % HISTORY] = packet
        if packet.key:
            self._pending = False
        elif self._pending:
            self.want_keyframe()
        if resync or self._resync:
            self._resync, resync = False, True
            for slot in self.slots:
                slot.restart()
        ntp, now = current_ntp_time(), self._clock()
        plain = list(self.plain)  # before a lane that fails joins it: one try per packet
        sent = self._push_lanes(packet, ntp, now) if self.lanes.slots else 0
        if plain:
            abs_time = rtp.abs_send_time(ntp)
            for slot in plain:
                sent += slot.forward(packet, abs_time, now)
        if sent:
            self.tally.packets += sent
            if packet.marker or self.kind == "audio":
                self.tally.delivered += sent
        for relay in list(self.relays.values()):
            relay.packet(self, packet, resync)

    def _push_lanes(self, packet: Packet, ntp: int, now: float) -> int:
        """The packet to the steady slots, natively; a slot whose lane failed leaves it."""
        sent = self.lanes.push(packet, (ntp >> 14) & 0xFFFFFF, now)
        if sent < len(self.lanes):
            for slot, status in self.lanes.failed():
                if status != lanes.SKIPPED:
                    slot.lane_failed(status, packet)
        return sent

    def push_frame(self, frame: EncodedFrame) -> None:
        self.frames += 1
        self.tally.frames_in += 1
        if self.muted:
            return
        for sink in list(self.sinks):
            sink(frame)

    def packet(self, seq: int) -> Packet | None:
        """The packet with this (feed) sequence number, if it is still kept."""
        if not self.history:
            return None
        found = self.history[seq % HISTORY]
        return found if found is not None and found.seq == seq else None

    # -- keyframes -----------------------------------------------------------------------

    def want_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most once per interval."""
        if self.kind != "video":
            return
        now = self._clock()
        if now - self._last_ask < KEYFRAME_INTERVAL_S:
            self._pending = True
            return
        self._last_ask, self._pending = now, False
        self.keyframe_requests += 1
        self.tally.keyframe_requests += 1
        self._ask()

    def lost(self) -> None:
        """Frames went missing upstream and will not come: a keyframe mends them."""
        self.want_keyframe()

    def set_muted(self, muted: bool) -> None:
        if self.muted and not muted:
            self._resync = True
            self.want_keyframe()
        self.muted = muted

    def close(self) -> None:
        for slot in list(self.slots):
            slot.bind(None)
        self.relays.clear()


def _unsent(*args: Any) -> Any:
    """In place of a slot's header and wire before its m-line is negotiated (never called:
    `Slot._start` lets no packet through until then)."""
    raise AssertionError("a slot forwarded before it was negotiated")


class Slot(MediaStreamTrack):
    """What one subscriber m-line sends: the packets of whichever feed it is bound to.

    As a track it never yields (aiortc's sender must not encode or packetize);
    `forward` writes the packets instead.
    """

    def __init__(
        self,
        kind: str,
        mime: str,
        clock: Callable[[], float] = time.monotonic,
        tally: Tally | None = None,
    ) -> None:
        super().__init__()
        self.tally = tally or Tally()
        self.kind = kind
        self.mime = mime
        self.feed: Feed | None = None
        self.terms: Negotiated | None = None
        self.header: Header | None = None
        self._wire: Writer | None = None
        self.sending = False
        """Whether the m-line is negotiated to send (set by `sends`)."""
        self.dropped = 0
        self._packets = 0
        self._octets = 0
        self.retransmitted = 0
        self.lane: Lane | None = None
        """This stream in the native fan-out, once negotiated on a `Wire` (`media.lanes`)."""
        self.native = False
        """Whether the lane sends this slot's packets now (the slot is in `feed.lanes`)."""
        self._clock = clock
        self._rate = CLOCK[kind]
        self._stopped = asyncio.Event()
        self._write: Callable[[int, int, bool, bytes, int], bytes] = _unsent
        self._send: Callable[[bytes, bytes], int] = _unsent
        """`header.write` and `wire.send`, once negotiated."""
        self._synced = False
        """Whether the current mapping onto the bound feed's stream holds (see `_sync`)."""
        self._need_key = kind == "video"
        self._epoch = -1
        self._seq_offset = 0
        self._stamp_offset = 0
        self._shifted = False
        """Whether either offset is not 0."""
        self._picture_offset = 0
        self._since = 0
        """The feed sequence number the current mapping starts at."""
        self._started = False
        """Whether a packet was sent; then the highest sent (by sequence number) had:"""
        self._top_seq = 0
        """... this sequence number, timestamp and VP8 picture id (-1: none) in this stream,"""
        self._top_stamp = 0
        self._top_picture = -1
        self._sent_at = 0.0
        """... and was sent then."""
        self._rtx_seq = random.randrange(0x8000)

    @property
    def wire(self) -> Writer | None:
        """Where this m-line's packets go (set at negotiation; a test may wrap it)."""
        return self._wire

    @wire.setter
    def wire(self, wire: Writer | None) -> None:
        self.demote()
        self._wire, self._send = wire, wire.send if wire is not None else _unsent
        if wire is None:
            self._synced = False

    @property
    def packets(self) -> int:
        self._pull()
        return self._packets

    @property
    def octets(self) -> int:
        self._pull()
        return self._octets

    def attach(self, transceiver: RTCRtpTransceiver) -> None:
        """Write the packets of this m-line's sender from now on."""
        drive(transceiver.sender, self)
        on_direction(transceiver, self.sends)

    def sends(self, sending: bool) -> None:
        """The m-line was negotiated to send, or not (an idle slot is `inactive`)."""
        if sending and not self.sending:
            self.sending = True
            self.restart()
        elif not sending:
            self.demote()
            self.sending, self._synced = False, False

    # -- binding -------------------------------------------------------------------

    def bind(self, feed: Feed | None) -> None:
        if feed is self.feed:
            return
        self.demote()
        if self.feed is not None:
            self.feed.slots.discard(self)
            self.feed.plain.discard(self)
        self.feed, self._synced = feed, False
        if feed is not None:
            feed.slots.add(self)
            feed.plain.add(self)
            self.restart()

    def restart(self) -> None:
        """Start again at the next keyframe (a new subscriber, an unmute, a loss)."""
        self.demote()
        self._synced = False
        if self.kind == "video":
            self._need_key = True
            if self.feed is not None and self.wire is not None and self.sending:
                self.feed.want_keyframe()

    def resync(self) -> None:
        """The feed's packets are of a new publisher stream: map it onto ours again."""
        self.demote()
        self._synced = False

    # -- forwarding --------------------------------------------------------------

    def forward(self, packet: Packet, abs_time: bytes, now: float) -> int:
        """Send one packet of the bound feed (`now`: the feed's clock when it came); 1 if it
        was sent, else 0 (the feed counts what its slots sent)."""
        # Once per packet per subscriber: the steady case is kept to the fewest operations.
        if not self._synced:
            if not self._start(packet, now):
                return 0
        elif packet.late and (packet.seq - self._since) & 0xFFFF >= 0x8000:
            return 0  # from before the switch to this stream
        if self._shifted:
            seq = (packet.seq + self._seq_offset) & 0xFFFF
            stamp = (packet.timestamp + self._stamp_offset) & 0xFFFFFFFF
        else:  # the stream's first mapping: numbered as the feed is
            seq, stamp = packet.seq, packet.timestamp
        payload = packet.payload
        if self._picture_offset and packet.picture >= 0:
            payload = self._renumbered(packet)
        status = self._send(self._write(seq, stamp, packet.marker, abs_time, packet.level), payload)
        if status:
            self._failed(status, packet)
            return 0
        self._packets += 1
        self._octets += len(payload)
        if not packet.late or (seq - self._top_seq) & 0xFFFF < 0x8000:
            self._top_seq, self._top_stamp, self._sent_at = seq, stamp, now
            self._top_picture = rtp.picture_after(packet, self._picture_offset)
        self._started = True
        if self.lane is not None:
            self._promote()
        return 1

    def _start(self, packet: Packet, now: float) -> bool:
        """Whether this packet starts (or resumes) the stream: the m-line sends, and video
        starts at a keyframe."""
        feed = self.feed
        if self.header is None or self._wire is None or feed is None or not self.sending:
            return False
        if self._need_key and not packet.key:
            self._drop(packet)
            feed.want_keyframe()
            return False
        self._sync(packet, feed.epoch, now)
        return True

    def _sync(self, packet: Packet, epoch: int, now: float) -> None:
        """Map a new stream (or the same one after a gap) onto where this one left off."""
        if not self._started:  # the first packet: the highest sent so far, as it goes out
            self._top_seq = (packet.seq + self._seq_offset - 1) & rtp.SEQ
        else:
            self._seq_offset = (self._top_seq + 1 - packet.seq) & rtp.SEQ
            ticks = max(1, round((now - self._sent_at) * self._rate))
            self._stamp_offset = (self._top_stamp + ticks - packet.timestamp) & rtp.STAMP
            if packet.picture >= 0 and self._top_picture >= 0:
                picture = rtp.picture_of(packet.payload, packet.picture)
                self._picture_offset = (self._top_picture + 1 - picture) & 0x7FFF
        self._since, self._epoch = packet.seq, epoch
        self._shifted = bool(self._seq_offset or self._stamp_offset)
        self._synced, self._need_key = True, False

    def _renumbered(self, packet: Packet) -> bytes:
        """The payload with its VP8 picture id going on from this stream's last one."""
        picture = (rtp.picture_of(packet.payload, packet.picture) + self._picture_offset) & 0x7FFF
        return rtp.with_picture(packet.payload, packet.picture, picture)

    # -- the native fan-out (media.lanes) -------------------------------------------------

    def _promote(self) -> None:
        """Hand this stream to its feed's lanes, from where it is now (after a packet was
        sent the Python way, so the wire's port points at the selected pair)."""
        lane, feed, port = self.lane, self.feed, getattr(self._wire, "port", None)
        if lane is None or feed is None or port is None or not port.up:
            return
        c = lane.c
        c.seq_offset, c.stamp_offset = self._seq_offset, self._stamp_offset
        c.picture_offset, c.since = self._picture_offset, self._since & rtp.SEQ
        c.packets, c.octets = self._packets, self._octets
        c.top_seq, c.top_stamp, c.top_picture = self._top_seq, self._top_stamp, self._top_picture
        c.sent_at = self._sent_at
        lane.on(port)
        feed.plain.discard(self)
        feed.lanes.add(self)
        self.native = True

    def demote(self) -> None:
        """Forward this stream in Python again, from where its lane left it."""
        if not self.native:
            return
        self._pull()
        self.native = False
        if self.feed is not None:
            self.feed.lanes.remove(self)
            self.feed.plain.add(self)

    def _pull(self) -> None:
        """Take back what the lane counted."""
        if self.native:
            c = self.lane.c  # type: ignore[union-attr]
            self._packets, self._octets = c.packets, c.octets
            self._top_seq, self._top_stamp = c.top_seq, c.top_stamp
            self._top_picture, self._sent_at = c.top_picture, c.sent_at

    def lane_failed(self, status: int, packet: Packet) -> None:
        """The lane could not send `packet` (BEHIND, DOWN, REFUSED)."""
        self.demote()
        self._failed(status, packet)

    def _failed(self, status: int, packet: Packet) -> None:
        self._drop(packet)
        if status == BEHIND:
            self.restart()  # the socket is backed up: resume at a keyframe
        elif status == DOWN:
            self.demote()
            self._synced = False

    def _drop(self, packet: Packet) -> None:
        if packet.marker or self.kind == "audio":
            self.dropped += 1
            self.tally.dropped += 1

    # -- what the subscriber tells us (encoded.Driver) -----------------------------------

    def negotiated(self, terms: Negotiated, wire: Writer) -> None:
        """Called at every negotiation of the connection: one that changes nothing for this
        m-line (a page of the gallery turned) leaves its stream going."""
        if terms == self.terms and self.wire is not None:
            return
        self.terms = terms
        self.header = Header(terms.ssrc, terms.payload_type, terms.extensions, terms.mid, terms.rtx)
        self._write = self.header.writer()
        self.wire = wire
        self.lane = None
        if getattr(wire, "port", None) is not None and self.header.longest() <= FORM_ROOM:
            self.lane = Lane(self.header)
        self.restart()

    def nack(self, lost: list[int]) -> None:
        """Resend what the subscriber lost, from the feed's history; a keyframe if it is gone."""
        feed, header, wire = self.feed, self.header, self.wire
        if feed is None or header is None or wire is None or not self._synced:
            return
        missing = False
        for seq in lost:
            found = feed.packet((seq - self._seq_offset) & rtp.SEQ)
            if found is None or (found.seq - self._since) & rtp.SEQ >= rtp.HALF:
                missing = True
                continue
            self._resend(found, seq, header, wire)
        if missing:
            feed.want_keyframe()

    def _resend(self, packet: Packet, seq: int, header: Header, wire: Writer) -> None:
        stamp = (packet.timestamp + self._stamp_offset) & rtp.STAMP
        abs_time = rtp.abs_send_time(current_ntp_time())
        if header.rtx is not None:
            self._rtx_seq = (self._rtx_seq + 1) & rtp.SEQ
            data = header.write_rtx(self._rtx_seq, seq, stamp, packet.marker, abs_time)
        else:
            data = header.write(seq, stamp, packet.marker, abs_time, packet.level)
        payload = self._renumbered(packet) if self._picture_offset else packet.payload
        if wire.send(data, payload) == SENT:
            self.retransmitted += 1
            self.tally.retransmitted += 1

    def keyframe(self) -> None:
        if self.feed is not None:
            self.feed.want_keyframe()

    def report(self) -> tuple[int, int, int, int] | None:
        """This stream's clock as the publisher's sender report maps it (lip sync), or ours."""
        self._pull()
        if not self._started:
            return None
        feed = self.feed
        if feed is not None and feed.report is not None and feed.report[0] == self._epoch:
            _, ntp, stamp = feed.report
            return ntp, (stamp + self._stamp_offset) & rtp.STAMP, self._packets, self._octets
        ticks = round((self._clock() - self._sent_at) * self._rate)
        stamp = (self._top_stamp + ticks) & rtp.STAMP
        return current_ntp_time(), stamp, self._packets, self._octets

    # -- the track aiortc's sender holds -------------------------------------------------------

    async def recv(self) -> Any:
        await self._stopped.wait()
        raise MediaStreamError

    def stop(self) -> None:
        self.bind(None)
        super().stop()
        self._stopped.set()
