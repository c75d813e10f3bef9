"""RTP as the SFU forwards it: what it reads of a publisher's packet, what it writes per subscriber.

A publisher's packets become `Packet`s in `Ingest`: duplicates (a
retransmission of something that already came, RTX probing padding) are
dropped, padding-only packets are dropped and the sequence numbers closed
over them, and each packet is read once for what every subscriber needs
(does a keyframe start here, the VP8 picture id's place, the audio level).
The sequence numbers of `Packet`s are the feed's own: contiguous but for
real losses, which is what lets a subscriber's NACK be answered from one
history per track.

`Header` writes one subscriber stream's RTP header: its SSRC and payload
type, the header extensions negotiated on its connection (mid, abs-send-time,
audio level) in the one-byte form of RFC 8285.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

SEQ = 0xFFFF
STAMP = 0xFFFFFFFF
HALF = 0x8000

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

_FIXED = struct.Struct("!BBHII")
_OSN = struct.Struct("!H")
MISSING_MAX = 512
"""Lost sequence numbers remembered so that a late (retransmitted) packet still finds its place."""


def seq_after(a: int, b: int) -> bool:
    """Whether sequence number `a` comes after `b` (RFC 3550 arithmetic, modulo 2^16)."""
    return a != b and (a - b) & SEQ < HALF


class Packet:
    """One publisher packet as every subscriber of its track gets it (read once, never changed)."""

    __slots__ = ("key", "late", "level", "marker", "payload", "picture", "seq", "timestamp")

    def __init__(
        self,
        seq: int,
        timestamp: int,
        marker: bool,
        payload: bytes,
        key: bool = False,
        level: int = -1,
        picture: int = -1,
        late: bool = False,
    ) -> None:
        self.seq = seq
        """The feed's sequence number (not the publisher's)."""
        self.timestamp = timestamp
        self.marker = marker
        self.payload = payload
        self.key = key
        """A decoder can start at this packet (the first packet of a keyframe; any audio packet)."""
        self.level = level
        """The audio level header's byte as sent (voice flag, -dBov); -1 if none."""
        self.picture = picture
        """VP8: where the 15-bit picture id sits in the payload; -1 if it has none."""
        self.late = late
        """It comes after a packet of a higher sequence number (a retransmission, a packet
        the network reordered): most packets are not, and a subscriber stream need not
        place them."""


# -- what a packet holds -----------------------------------------------------------


def vp8_start(payload: bytes) -> tuple[bool, int]:
    """(starts a keyframe, offset of a 15-bit picture id or -1) of a VP8 RTP payload (RFC 7741)."""
    size = len(payload)
    if size < 1:
        return False, -1
    first = payload[0]
    pos, picture = 1, -1
    if first & 0x80 and size > 1:  # X: an extension octet follows
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits (M)
            if size > pos + 1 and payload[pos] & 0x80:
                picture = pos
                pos += 2
            else:
                pos += 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K
            pos += 1
    start = first & 0x10 and first & 0x07 == 0  # S=1, partition 0
    key = bool(start) and size > pos and payload[pos] & 0x01 == 0  # P bit 0: keyframe
    return key, picture


def h264_starts_keyframe(payload: bytes) -> bool:
    """Whether an H.264 RTP payload (RFC 6184) carries an SPS or the start of an IDR slice."""
    if not payload:
        return False
    kind = payload[0] & 0x1F
    if kind in (5, 7):
        return True
    if kind == 24:  # STAP-A: 16-bit size, then the unit
        pos = 1
        while pos + 2 < len(payload):
            size = (payload[pos] << 8) | payload[pos + 1]
            if payload[pos + 2] & 0x1F in (5, 7):
                return True
            pos += 2 + size
        return False
    if kind == 28 and len(payload) > 1:  # FU-A: the start fragment names the unit
        return bool(payload[1] & 0x80) and payload[1] & 0x1F in (5, 7)
    return False


Reader = Callable[[bytes], tuple[bool, int]]
"""(a keyframe starts here, where the VP8 picture id is) of a payload."""


def reader(mime: str) -> Reader:
    kind, _, name = mime.lower().partition("/")
    if kind == "audio":
        return _audio
    if name == "vp8":
        return vp8_start
    if name == "h264":
        return lambda payload: (h264_starts_keyframe(payload), -1)
    return lambda payload: (False, -1)


def _audio(payload: bytes) -> tuple[bool, int]:
    return True, -1


class Ingest:
    """A publisher's packets in, the feed's `Packet`s out (or None for nothing to forward)."""

    def __init__(self, mime: str) -> None:
        self.mime = mime
        self.epoch = 0
        """Counts publisher streams: a new SSRC starts a new epoch (and new numbering)."""
        self._read = reader(mime)
        self._ssrc: int | None = None
        self._highest = 0
        self._offset = 0
        self._missing: dict[int, int] = {}
        """Publisher sequence number not seen yet -> the offset when it went missing."""

    def accept(
        self, ssrc: int, seq: int, timestamp: int, marker: bool, payload: bytes, level: int = -1
    ) -> Packet | None:
        if ssrc != self._ssrc:
            self._ssrc, self._highest, self._offset = ssrc, (seq - 1) & SEQ, 0
            self._missing.clear()
            self.epoch += 1
        ahead = (seq - self._highest) & SEQ
        late = ahead == 0 or ahead >= HALF
        if late:
            offset = self._missing.pop(seq, None)
            if offset is None:
                return None  # a duplicate, or older than anything we still place
        else:
            self._note_gap(ahead)
            self._highest = seq
            if not payload:
                self._offset += 1  # padding only: close the numbering over it
                return None
            offset = self._offset
        if not payload:
            return None
        key, picture = self._read(payload)
        return Packet((seq - offset) & SEQ, timestamp, marker, payload, key, level, picture, late)

    def _note_gap(self, ahead: int) -> None:
        if ahead > MISSING_MAX:
            self._missing.clear()  # a jump: nothing before it will be placed
            return
        for step in range(1, ahead):
            self._missing[(self._highest + step) & SEQ] = self._offset
        while len(self._missing) > MISSING_MAX:
            del self._missing[next(iter(self._missing))]


# -- what a subscriber stream writes ---------------------------------------------------------


class Header:
    """The RTP header of one subscriber stream: its SSRC, payload type and negotiated extensions."""

    def __init__(
        self,
        ssrc: int,
        payload_type: int,
        extensions: Iterable[tuple[int, str]] = (),
        mid: str = "",
        rtx: tuple[int, int] | None = None,
    ) -> None:
        """`extensions`: (id, uri) as negotiated; `rtx`: (payload type, SSRC) when RTX is."""
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.rtx = rtx
        self._kinds = (payload_type, 0x80 | payload_type)
        """The second byte, without and with the marker bit (indexed by the marker)."""
        ids = {uri: ext_id for ext_id, uri in extensions if 1 <= ext_id <= 14}
        fixed = b""
        if MID_URI in ids and mid:
            fixed = _element(ids[MID_URI], mid.encode())
        self._abs = ids.get(ABS_SEND_TIME_URI, 0)
        self._level = ids.get(AUDIO_LEVEL_URI, 0)
        self._plain = _block(fixed)
        self._with_abs = _split(self._abs, 3, fixed) if self._abs else None
        self._with_level = _split(self._level, 1, fixed) if self._level else None
        # One `pack` a packet: the fixed header and the extension block around its one value.
        self._pack_plain = struct.Struct(f"!BBHII{len(self._plain)}s").pack
        self._pack_abs = _packer("3s", self._with_abs)
        self._pack_level = _packer("B", self._with_level)
        self._abs_before, self._abs_after = self._with_abs or (b"", b"")

    def forms(self) -> dict[str, tuple[bytes, int]]:
        """Each form `write` has, as a whole header with its sequence number and timestamp
        0 and the place its one value goes: "plain", and "abs" and "level" when negotiated
        (the templates of the native fan-out, `media.lanes`)."""
        found = {
            "plain": (
                _FIXED.pack(0x90 if self._plain else 0x80, self.payload_type, 0, 0, self.ssrc)
                + self._plain,
                -1,
            )
        }
        for name, parts, size in (("abs", self._with_abs, 3), ("level", self._with_level, 1)):
            if parts is not None:
                head = _FIXED.pack(0x90, self.payload_type, 0, 0, self.ssrc) + parts[0]
                found[name] = (head + bytes(size) + parts[1], len(head))
        return found

    def longest(self) -> int:
        """The length of this stream's longest media packet header."""
        return max(len(head) for head, _ in self.forms().values())

    def writer(self) -> Callable[[int, int, bool, bytes, int], bytes]:
        """`write`, or the same for this header's one form when it has one: a video stream
        with abs-send-time and no audio level, given a value each packet, as the SFU gives."""
        if self._with_level is None and self._with_abs is not None:
            return self._write_abs
        return self.write

    def _write_abs(self, seq: int, timestamp: int, marker: bool, abs_time: bytes, _: int) -> bytes:
        return self._pack_abs(
            0x90,
            self._kinds[marker],
            seq,
            timestamp,
            self.ssrc,
            self._abs_before,
            abs_time,
            self._abs_after,
        )

    def write(
        self, seq: int, timestamp: int, marker: bool, abs_time: bytes, level: int = -1
    ) -> bytes:
        """The header of a media packet; `abs_time` is the 3-byte abs-send-time value."""
        kind = self._kinds[marker]
        if level >= 0 and self._with_level is not None:
            before, after = self._with_level
            return self._pack_level(0x90, kind, seq, timestamp, self.ssrc, before, level, after)
        if self._with_abs is not None and abs_time:
            before, after = self._with_abs
            return self._pack_abs(0x90, kind, seq, timestamp, self.ssrc, before, abs_time, after)
        first = 0x90 if self._plain else 0x80
        return self._pack_plain(first, kind, seq, timestamp, self.ssrc, self._plain)

    def write_rtx(
        self, rtx_seq: int, seq: int, timestamp: int, marker: bool, abs_time: bytes
    ) -> bytes:
        """Header and original sequence number of a retransmission on the RTX stream (RFC 4588)."""
        assert self.rtx is not None
        payload_type, ssrc = self.rtx
        ext = self._extensions(abs_time, -1)
        kind = 0x80 | payload_type if marker else payload_type
        head = _FIXED.pack(0x90 if ext else 0x80, kind, rtx_seq, timestamp, ssrc)
        return head + ext + _OSN.pack(seq)

    def _extensions(self, abs_time: bytes, level: int) -> bytes:
        if level >= 0 and self._with_level is not None:
            before, after = self._with_level
            return before + bytes((level,)) + after
        if self._with_abs is not None and abs_time:
            before, after = self._with_abs
            return before + abs_time + after
        return self._plain


def _packer(value: str, parts: tuple[bytes, bytes] | None) -> Callable[..., bytes]:
    """`pack` of a header whose extension block is `parts` around one `value` (struct code)."""
    before, after = parts or (b"", b"")
    return struct.Struct(f"!BBHII{len(before)}s{value}{len(after)}s").pack


def _element(ext_id: int, value: bytes) -> bytes:
    return bytes(((ext_id << 4) | (len(value) - 1),)) + value


def _block(elements: bytes) -> bytes:
    """The one-byte-header extension block (RFC 8285) around `elements`, padded to 32 bits."""
    if not elements:
        return b""
    padded = elements + b"\x00" * (-len(elements) % 4)
    return b"\xbe\xde" + struct.pack("!H", len(padded) // 4) + padded


def _split(ext_id: int, size: int, fixed: bytes) -> tuple[bytes, bytes]:
    """The block with a `size`-byte element of `ext_id` first, cut where its value goes."""
    whole = _block(bytes(((ext_id << 4) | (size - 1),)) + b"\x00" * size + fixed)
    at = 5  # profile (2), length (2), element header (1)
    return whole[:at], whole[at + size :]


def abs_send_time(ntp: int) -> bytes:
    """The abs-send-time value (6.18 fixed-point seconds, 24 bits) of a 64-bit NTP time."""
    return ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")


def picture_after(packet: Packet, offset: int) -> int:
    """The VP8 picture id a packet is sent with, renumbered by `offset`; -1 if it has none."""
    if packet.picture < 0:
        return -1
    return (picture_of(packet.payload, packet.picture) + offset) & 0x7FFF


def with_picture(payload: bytes, at: int, picture: int) -> bytes:
    """A VP8 payload with its 15-bit picture id replaced."""
    return payload[:at] + bytes((0x80 | (picture >> 8) & 0x7F, picture & 0xFF)) + payload[at + 2 :]


def picture_of(payload: bytes, at: int) -> int:
    return ((payload[at] & 0x7F) << 8) | payload[at + 1]
