"""Socket.IO packets read defensively: a frame that cannot be served becomes a refusal.

python-socketio decodes each inbound frame before any handler runs; a frame
that is not msgpack or JSON, nests too deep for the decoder, or has fields of
the wrong type raises there, out of reach of the handler gate, with a
traceback per frame. These packet classes catch that: such a frame becomes
the event `BAD_FRAME`, which the gateway refuses with `bad_request` like any
bad request (counted, rate-limited, acknowledged when the frame's ack id
could be read). Reserved event names, which would call the connect and
disconnect handlers, and binary attachments, which the protocol does not
use, are refused the same way.
"""

from __future__ import annotations

from typing import Any

from socketio import packet
from socketio.msgpack_packet import MsgPackPacket

BAD_FRAME = "bad:frame"
"""The event a refused frame becomes: `[BAD_FRAME, reason]`."""
MAX_DEPTH = 16
"""Nesting of lists and maps a frame may have (the protocol needs 5)."""
RESERVED = frozenset({"connect", "disconnect", "connect_error"})
BINARY = (packet.BINARY_EVENT, packet.BINARY_ACK)


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and maps nest in `value` more than `limit` levels (no recursion)."""
    level = [value]
    for _ in range(limit):
        inner: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                inner.extend(v for v in item.values() if isinstance(v, dict | list))
            elif isinstance(item, list):
                inner.extend(v for v in item if isinstance(v, dict | list))
        if not inner:
            return False
        level = inner
    return True


class _Checked(packet.Packet):  # type: ignore[misc]
    """What both wires check once a frame is decoded, and how a frame is refused."""

    packet_type: Any
    namespace: Any
    id: Any
    data: Any

    def __init__(self, *args: Any, encoded_packet: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, encoded_packet=encoded_packet, **kwargs)
        if encoded_packet is not None and not encoded_packet:
            self.refuse("an empty frame")  # the library skips decoding it

    def refuse(self, reason: str) -> None:
        ack = self.id if type(self.id) is int else None
        is_request = self.packet_type in (packet.EVENT, *BINARY)
        self.packet_type = packet.EVENT
        self.namespace = "/"
        self.id = ack if is_request and ack is not None and ack >= 0 else None
        self.data = [BAD_FRAME, reason]

    def check(self) -> None:
        kind = self.packet_type
        if type(kind) is not int or not 0 <= kind <= 6:
            self.refuse("not a Socket.IO packet")
        elif self.namespace is not None and not isinstance(self.namespace, str):
            self.refuse("the namespace is not a string")
        elif self.packet_type in BINARY:
            self.refuse("binary attachments are not accepted")
        elif self.packet_type == packet.CONNECT:
            if not isinstance(self.data, dict) or too_deep(self.data):
                self.data = None  # refused by the connect handler: no auth
        elif self.packet_type == packet.EVENT:
            self._check_event()

    def _check_event(self) -> None:
        data = self.data
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            self.refuse("an event is a list: [name, payload]")
        elif data[0] in RESERVED:
            self.refuse(f"{data[0]!r} is reserved")
        elif too_deep(data):
            self.refuse(f"the frame nests more than {MAX_DEPTH} levels deep")


class JsonFrame(_Checked):
    """The default (JSON) wire."""

    def decode(self, encoded_packet: Any) -> int:
        try:
            count: int = super().decode(encoded_packet) or 0
        except Exception as exc:  # the parser's IndexError, ValueError, RecursionError...
            # The ack id precedes the JSON, so it was read if the frame had one.
            self.refuse(f"the frame could not be decoded ({type(exc).__name__})")
            return 0
        self.check()
        return count


class MsgPackFrame(_Checked, MsgPackPacket):  # type: ignore[misc]
    """The msgpack wire (`socket.io-msgpack-parser`)."""

    def decode(self, encoded_packet: Any) -> None:
        try:
            MsgPackPacket.decode(self, encoded_packet)
        except Exception as exc:  # not msgpack, nested beyond its stack, not a map...
            self.id = None  # a packet that cannot be read has no ack id to trust
            self.refuse(f"the frame could not be decoded ({type(exc).__name__})")
            return
        self.check()
