"""The local socket between the server process and a media worker: control messages and packets.

One `SOCK_STREAM` Unix socket (a socketpair made by the server) carries
frames of `!I` length then a type byte:

- `CONTROL`: a msgpack map, an order to the worker or an event from it
  (docs of `media.worker` and `media.workers` list them);
- `PACKET`: a feed's RTP packet as `packets.Packet` holds it: feed number,
  epoch, flags (marker, keyframe start, resync, late), sequence number, timestamp,
  audio level and VP8 picture id offset (0xFF: none), then the payload.

Each published packet crosses the socket once per worker that has a
subscriber of it. Control messages are always written; a packet is dropped
when the worker has not read the last `BACKLOG` bytes (it is behind), and
the feed's next packet to that worker carries `resync`: its subscribers
resume at a keyframe instead of waiting for what was dropped.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from typing import Any

import msgspec

from media.packets import Packet

log = logging.getLogger(__name__)

CONTROL, PACKET = 0, 1
MARKER, KEY, RESYNC, LATE = 1, 2, 4, 8
BACKLOG = 4 * 1024 * 1024
"""Bytes a worker may leave unread before packets to it are dropped (seconds of video)."""
MAX_FRAME = 1 << 20

_SIZE = struct.Struct("!I")
_HEAD = struct.Struct("!BIHBHIBB")
"""Type, feed, epoch, flags, sequence number, timestamp, level, picture offset."""

OnControl = Callable[[dict[str, Any]], None]
OnPacket = Callable[[int, int, bool, Packet], None]
"""(feed number, epoch, resync, packet)."""


class Link(asyncio.Protocol):
    def __init__(self, on_control: OnControl, on_packet: OnPacket | None = None) -> None:
        self.on_control = on_control
        self.on_packet = on_packet
        self.closed = asyncio.get_running_loop().create_future()
        """Done when the socket closes (the other process is gone)."""
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()

    # -- out -----------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        body = msgspec.msgpack.encode(message)
        self._transport.write(_SIZE.pack(len(body) + 1) + bytes((CONTROL,)) + body)

    def send_packet(self, feed: int, epoch: int, packet: Packet, resync: bool) -> bool:
        """False if it was dropped: the socket is closed or the worker is behind."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > BACKLOG:
            return False
        flags = (MARKER if packet.marker else 0) | (KEY if packet.key else 0)
        flags |= LATE if packet.late else 0
        head = _HEAD.pack(
            PACKET,
            feed,
            epoch & 0xFFFF,
            flags | (RESYNC if resync else 0),
            packet.seq,
            packet.timestamp,
            packet.level if packet.level >= 0 else 0xFF,
            packet.picture if 0 <= packet.picture < 0xFF else 0xFF,
        )
        transport.write(_SIZE.pack(len(head) + len(packet.payload)) + head + packet.payload)
        return True

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # -- in ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        pos = 0
        while len(buffer) - pos >= 4:
            (size,) = _SIZE.unpack_from(buffer, pos)
            if size > MAX_FRAME or size < 1:
                log.error("media link: a frame of %d bytes; closing", size)
                self.close()
                return
            if len(buffer) - pos - 4 < size:
                break
            start = pos + 4
            pos = start + size
            try:
                self._frame(memoryview(buffer)[start:pos])
            except Exception:
                log.exception("media link: a frame could not be handled")
        del buffer[:pos]

    def _frame(self, frame: memoryview) -> None:
        if frame[0] == CONTROL:
            message = msgspec.msgpack.decode(frame[1:])
            if isinstance(message, dict):
                self.on_control(message)
            return
        if self.on_packet is None:
            return
        _, feed, epoch, flags, seq, stamp, level, picture = _HEAD.unpack_from(frame)
        packet = Packet(
            seq,
            stamp,
            bool(flags & MARKER),
            bytes(frame[_HEAD.size :]),
            bool(flags & KEY),
            -1 if level == 0xFF else level,
            -1 if picture == 0xFF else picture,
            bool(flags & LATE),
        )
        self.on_packet(feed, epoch, bool(flags & RESYNC), packet)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self.closed.done():
            self.closed.set_result(None)
