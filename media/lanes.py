"""The native fan-out: a publisher packet to every steady subscriber stream in one call.

Forwarding a packet is the same few steps for every subscriber stream (write
its header, protect with SRTP, `sendto`), and in Python those steps cost
about three quarters of a subscriber packet's CPU. `media/fanout.c` does
them in one call per publisher packet for every stream in its steady state:
a `Lane` per such stream, gathered in the feed's `Lanes`. A slot
(`media.tracks.Slot`) runs in Python when it starts, switches streams, waits
for a keyframe, resends or fails, and joins its feed's lanes again after its
next packet sent in Python; the lane carries the slot's mapping (offsets,
since) and counts what it sends (packets, octets, the highest packet), which
the slot takes back when it leaves.

A `Port` is where a connection's packets go (its SRTP session, its socket,
the remote address), kept by its `media.wire.Wire`, which marks it down the
moment the DTLS transport leaves the connected state or aioice changes or
clears the selected pair, before aioice closes the socket.

`media._fanout` is built by `pip install` (cffi, setup.py). Without it
(`AVAILABLE` is False) every packet goes the Python way, which sends the same
bytes.
"""

from __future__ import annotations

import socket
import struct
from typing import TYPE_CHECKING, Any

from pylibsrtp import SRTP_MAX_TRAILER_LEN
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

from media.packets import Header, Packet

if TYPE_CHECKING:
    from media.tracks import Slot

try:
    from media._fanout import ffi, lib
except ImportError:  # not built: the Python path sends every packet
    ffi = lib = None

AVAILABLE = lib is not None
ROOM = 1500
"""The largest protected packet: what one datagram on the path carries (`media.wire` sends
within it too)."""
MOST = ROOM - SRTP_MAX_TRAILER_LEN
"""The largest packet before protection."""

if AVAILABLE:
    _PROTECT = ffi.cast(
        "protect_fn",
        int(srtp_ffi.cast("uintptr_t", srtp_ffi.addressof(srtp_lib, "srtp_protect"))),
    )
    SENT, BEHIND, DOWN, REFUSED, SKIPPED = lib.SENT, lib.BEHIND, lib.DOWN, lib.REFUSED, lib.SKIPPED


class Port:
    """Where one connection's packets go, as `fanout.c` reads it."""

    def __init__(self) -> None:
        self.c: Any = ffi.new("struct port *")

    @property
    def up(self) -> bool:
        return bool(self.c.up)

    def point(self, handle: Any, fd: int, address: tuple[Any, ...]) -> None:
        """Send with this libsrtp session (`wire.handle_of`), on this socket, to `address`;
        a scoped IPv6 address stays down (the Python path sends to it)."""
        raw = _sockaddr(address)
        self.c.up = 0
        if raw is None:
            return
        self.c.srtp = ffi.cast("void *", int(srtp_ffi.cast("uintptr_t", handle)))
        self.c.fd = fd
        self.c.address_length = len(raw)
        self.c.address[0 : len(raw)] = raw
        self.c.up = 1

    def down(self) -> None:
        self.c.up = 0


def _sockaddr(address: tuple[Any, ...]) -> bytes | None:
    """A `struct sockaddr_in` or `sockaddr_in6` for a numeric (host, port)."""
    host, port = address[0], address[1]
    family = struct.pack("=H", socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        if ":" not in host:
            return family + struct.pack("!H", port) + socket.inet_aton(host) + bytes(8)
        if "%" in host:
            return None
        raw = socket.inet_pton(socket.AF_INET6, host)
        return family + struct.pack("!HI", port, 0) + raw + bytes(4)
    except OSError:
        return None


FORM_ROOM = 64
"""The longest header `fanout.c` writes (`struct form`): 12 bytes and extensions."""


class Lane:
    """One subscriber stream as `fanout.c` sends it."""

    def __init__(self, header: Header) -> None:
        self.c: Any = ffi.new("struct lane *")
        self.c.payload_type = header.payload_type
        for name, (head, value_at) in header.forms().items():
            if len(head) > FORM_ROOM:
                raise ValueError(f"a {len(head)}-byte header is longer than a lane writes")
            form = getattr(self.c, "with_" + name if name != "plain" else name)
            form.length, form.value_at = len(head), value_at
            form.bytes[0 : len(head)] = head
        self.port: Port | None = None
        """Kept here too: the lane points at it."""

    def on(self, port: Port) -> None:
        self.port, self.c.port = port, port.c


class Lanes:
    """A feed's steady subscriber streams: each publisher packet to all of them, in one call."""

    def __init__(self) -> None:
        self.slots: list[Slot] = []
        self._array: Any = None
        self._count = 0
        self._packet: Any = ffi.new("struct packet *") if AVAILABLE else None
        self._buffer: Any = ffi.new("uint8_t[]", ROOM) if AVAILABLE else None

    def __len__(self) -> int:
        return len(self.slots)

    def add(self, slot: Slot) -> None:
        self.slots.append(slot)
        self._array = None

    def remove(self, slot: Slot) -> None:
        self.slots.remove(slot)
        self._array = None

    def push(self, packet: Packet, abs_time: int, now: float) -> int:
        """Send `packet` on every lane: how many sent it. A slot whose lane failed (or
        skipped the packet as older than its stream) is left to the caller as `failed`."""
        if self._array is None:
            self._array = ffi.new("struct lane *[]", [s.lane.c for s in self.slots])  # type: ignore[union-attr]
            self._count = len(self.slots)
        c = self._packet
        payload = ffi.from_buffer("uint8_t[]", packet.payload)
        c.payload, c.size = payload, len(packet.payload)
        c.seq, c.timestamp = packet.seq, packet.timestamp
        c.marker, c.late = packet.marker, packet.late
        c.level, c.picture_at, c.abs_time, c.now = packet.level, packet.picture, abs_time, now
        return int(lib.fanout_push(self._array, self._count, c, self._buffer, MOST, _PROTECT))

    def failed(self) -> list[tuple[Slot, int]]:
        """After `push`: the slots whose lane did not send, with why (SKIPPED: not for it)."""
        return [(s, s.lane.c.status) for s in self.slots if s.lane.c.status != SENT]  # type: ignore[union-attr]
