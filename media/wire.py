"""Writing RTP on a subscriber connection: SRTP protect in place, then one `sendto`.

With `media.encoded`, the only module that reaches below the public APIs of
aiortc, aioice and pylibsrtp (all pinned exactly; `tests/test_media_internals.py`
fails loudly if a new version moves what is used here):

- `Wire` sends on an `RTCDtlsTransport`'s SRTP session (`_tx_srtp`) and on the
  socket of the ICE pair aioice has selected (`_nominated`), under asyncio's
  datagram transport (`_sock`): a datagram the kernel cannot take is dropped,
  not queued (aiortc's own path is four coroutines per packet).
- `Sealer` calls libsrtp through pylibsrtp's binding, in place in one buffer
  where the header and the payload are put together: pylibsrtp's `protect`
  allocates and copies the packet twice more, which was a fifth of a
  forwarded packet's cost.
- A `Wire` keeps the `media.lanes.Port` the native fan-out sends through, and
  marks it down when the DTLS transport leaves the connected state (its
  `statechange` event) or aioice changes or clears the selected pair: the
  connection's `_nominated` dict is replaced by a `Watched` one, so the port
  is down before aioice closes the pair's socket.
- `FeedbackReader` reads a subscriber connection's RTCP as aioice hands each
  datagram to the connection (`Connection.data_received`), before it is queued
  for aiortc's DTLS task: it unprotects it with the DTLS transport's SRTCP
  session (`_rx_srtp`), gives NACK, PLI and FIR to the stream they name, and
  drops the rest (receiver reports, REMB). Queued, each report cost a task
  wakeup and a full parse for statistics the SFU never reads: a quarter of
  an idle subscriber's cost.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import weakref
from collections.abc import Callable
from typing import Any, Protocol

import pylibsrtp
from aiortc import RTCDtlsTransport
from aiortc.rtcdtlstransport import State
from aiortc.rtp import (
    RTCP_PSFB,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB,
    RTCP_RTPFB_NACK,
    is_rtcp,
)
from pylibsrtp import Session
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

from media import lanes
from media.lanes import MOST, ROOM

log = logging.getLogger(__name__)


class Unsupported(RuntimeError):
    """The installed aiortc, aioice or pylibsrtp lacks the internals `media.encoded` and
    this module were written for."""


SENT, BEHIND, DOWN, REFUSED = 0, 1, 2, 3
"""REFUSED: SRTP would not protect the packet (too long for one datagram): dropped."""


class Sealer:
    """SRTP protect in place, in one buffer that the packet is sent from at once.

    Single-threaded by design: each `seal` overwrites the last one's output,
    which the caller has already sent.
    """

    def __init__(self) -> None:
        self._buffer = srtp_ffi.new("char[]", ROOM)
        self._view = memoryview(srtp_ffi.buffer(self._buffer))
        self._length = srtp_ffi.new("int *")

    def send(
        self,
        handle: Any,
        head: bytes,
        payload: bytes,
        sendto: Callable[[memoryview, tuple[str, int]], int],
        address: tuple[str, int],
    ) -> int:
        """Protect the RTP packet `head + payload` with a session's libsrtp `handle`
        (`handle_of`), then send it with `sendto`: SENT, BEHIND, DOWN or REFUSED as
        `Wire.send`. The two parts are put together in the buffer, not joined first."""
        at = len(head)
        size = at + len(payload)
        if size > MOST:
            return REFUSED
        view, length = self._view, self._length
        view[:at] = head
        view[at:size] = payload
        length[0] = size
        if _protect(handle, self._buffer, length):
            return REFUSED
        try:
            sendto(view[: length[0]], address)
        except (BlockingIOError, InterruptedError):
            return BEHIND  # the socket's buffer is full: the datagram is dropped
        except OSError:
            return DOWN
        return SENT


SEALER = Sealer()
_protect = srtp_lib.srtp_protect
_CONNECTED = State.CONNECTED


def handle_of(session: Session) -> Any:
    """A pylibsrtp session's libsrtp handle (`srtp_t`), valid while the session lives."""
    return session._srtp[0]


class Wire:
    """Sends RTP on one DTLS transport: SRTP protect, then the selected ICE pair's socket."""

    def __init__(self, dtls: RTCDtlsTransport, sealer: Sealer = SEALER) -> None:
        self._dtls = dtls
        self._nominated = Watched.of(dtls.transport._connection)
        self.port = lanes.Port() if lanes.AVAILABLE else None
        """Where the native fan-out sends this connection's packets (None if not built)."""
        if self.port is not None:
            self._nominated.wires.add(self)
            dtls.on("statechange", self.changed)
        self._pair: Any = None
        self._sendto: Callable[[bytes | memoryview, tuple[str, int]], int] | None = None
        """The pair's socket's own `sendto`, under asyncio's transport."""
        self._address: tuple[str, int] = ("", 0)
        self._session: Session | None = None
        self._handle: Any = None
        """`handle_of(self._session)`, kept with the session."""
        self._send = sealer.send

    def send(self, head: bytes, payload: bytes = b"") -> int:
        """Send the RTP packet `head + payload`: SENT, BEHIND (the socket is backed up),
        DOWN (not connected) or REFUSED: only SENT was sent."""
        # Every forwarded packet comes this way, once per subscriber: kept to the fewest calls.
        if self._dtls._state is not _CONNECTED:
            return DOWN
        pair = self._nominated.get(1)
        if pair is not self._pair and not self._select(pair):
            return DOWN
        return self._send(self._handle, head, payload, self._sendto, self._address)  # type: ignore[arg-type]

    def send_rtcp(self, packet: bytes) -> int:
        """An RTCP packet, protected as SRTCP; returns as `send`."""
        if self._dtls._state is not State.CONNECTED or not self._select(self._nominated.get(1)):
            return DOWN
        try:
            sealed = self._session.protect_rtcp(packet)  # type: ignore[union-attr]
        except (pylibsrtp.Error, ValueError):
            return REFUSED
        try:
            self._sendto(sealed, self._address)  # type: ignore[misc]
        except OSError:
            return DOWN
        return SENT

    def _select(self, pair: Any) -> bool:
        """Send on this ICE pair (the one selected now); False if there is none."""
        if pair is None:
            return False
        if pair is not self._pair:
            self._pair, self._address = pair, pair.remote_addr
            sock = socket_of(pair.protocol.transport)
            self._sendto = sock.sendto
            self._session = self._dtls._tx_srtp
            self._handle = handle_of(self._session)
            if self.port is not None and self._dtls._state is _CONNECTED:
                self.port.point(self._handle, sock.fileno(), self._address)
        return True

    def changed(self) -> None:
        """The DTLS state or the selected pair changed: the native fan-out stops here until
        a packet sent the Python way selects the pair again."""
        self._pair = None
        if self.port is not None:
            self.port.down()


class Watched(dict[int, Any]):
    """aioice's selected pairs (`Connection._nominated`), telling the connection's wires of
    every change: aioice clears it before it closes the sockets."""

    wires: weakref.WeakSet[Wire]

    @classmethod
    def of(cls, connection: Any) -> Watched:
        """The connection's, put in place of aioice's plain dict the first time."""
        found = connection._nominated
        if not isinstance(found, dict):
            raise Unsupported("aioice's Connection has no _nominated dict")
        if not isinstance(found, cls):
            found = cls(found)
            found.wires = weakref.WeakSet()
            connection._nominated = found
        return found

    def _changed(self) -> None:
        for wire in list(self.wires):
            wire.changed()

    def __setitem__(self, key: int, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: int) -> None:
        super().__delitem__(key)
        self._changed()

    def clear(self) -> None:
        super().clear()
        self._changed()

    def pop(self, key: int, *default: Any) -> Any:
        found = super().pop(key, *default)
        self._changed()
        return found


NACKED_MOST = 256
"""Sequence numbers taken from one RTCP packet at most: a NACK answered from the feed's
history costs a resend each, and an authenticated peer could still send thousands."""


class Listener(Protocol):
    """What one sending stream does with its subscriber's feedback."""

    def nack(self, lost: list[int]) -> None: ...
    def keyframe(self) -> None: ...


class FeedbackReader:
    """A subscriber connection's RTCP, read synchronously as it arrives (module doc).

    Only SRTCP is taken; everything else (DTLS, a stray RTP packet) goes on to
    aiortc as before, and so does RTCP until the handshake has made the session.
    """

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        connection = dtls.transport._connection
        if not callable(getattr(connection, "data_received", None)):
            raise Unsupported("aioice's Connection has no data_received")
        if not hasattr(dtls, "_rx_srtp"):
            raise Unsupported("RTCDtlsTransport has no SRTCP session to read with")
        self._dtls = dtls
        self._listeners: dict[int, Listener] = {}
        self._queue = connection.data_received
        connection.data_received = self.received  # type: ignore[method-assign]
        self.read = 0
        """SRTCP packets read (authenticated or not)."""

    _of: weakref.WeakKeyDictionary[RTCDtlsTransport, FeedbackReader] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, dtls: RTCDtlsTransport) -> FeedbackReader:
        """The DTLS transport's, put in place the first time."""
        found = cls._of.get(dtls)
        if found is None:
            found = cls._of[dtls] = cls(dtls)
        return found

    def listen(self, ssrc: int, listener: Listener) -> None:
        """Give the feedback about the stream `ssrc` to `listener`."""
        self._listeners[ssrc] = listener

    def forget(self, ssrc: int) -> None:
        self._listeners.pop(ssrc, None)

    def received(self, data: bytes, component: int) -> None:
        """aioice's `data_received`: a datagram that is not STUN."""
        # What aiortc's task would unprotect as SRTCP (RFC 7983: RTP and RTCP start with
        # 128 to 191), and nothing else.
        session = self._dtls._rx_srtp
        if session is None or len(data) < 8 or not 127 < data[0] < 192 or not is_rtcp(data):
            self._queue(data, component)
            return
        self.read += 1
        try:
            plain = session.unprotect_rtcp(data)
        except pylibsrtp.Error:
            return  # not authentic or replayed: dropped, as aiortc does
        try:
            self._route(plain)
        except Exception:  # one subscriber's feedback must not stop the connection's reading
            log.exception("a subscriber's RTCP feedback could not be handled")

    def _route(self, compound: bytes) -> None:
        at, size = 0, len(compound)
        while at + 12 <= size:
            kind, form = compound[at + 1], compound[at] & 0x1F
            end = at + 4 + 4 * int.from_bytes(compound[at + 2 : at + 4], "big")
            if end > size:
                return
            if end < at + 12:  # no room for the media SSRC: not feedback
                pass
            elif kind == RTCP_RTPFB and form == RTCP_RTPFB_NACK:
                self._nack(compound, at, end)
            elif kind == RTCP_PSFB and form == RTCP_PSFB_PLI:
                self._keyframe(_word(compound, at + 8))
            elif kind == RTCP_PSFB and form == RTCP_PSFB_FIR:
                # RFC 5104: the streams are named in the FCI entries, the media SSRC is 0.
                for ssrc in {_word(compound, entry) for entry in range(at + 12, end - 7, 8)}:
                    self._keyframe(ssrc)
            at = end

    def _nack(self, compound: bytes, at: int, end: int) -> None:
        listener = self._listeners.get(_word(compound, at + 8))
        if listener is None:
            return
        lost: list[int] = []
        for entry in range(at + 12, end - 3, 4):
            if len(lost) >= NACKED_MOST:
                break
            first = int.from_bytes(compound[entry : entry + 2], "big")
            mask = int.from_bytes(compound[entry + 2 : entry + 4], "big")
            lost.append(first)
            lost.extend((first + bit + 1) & 0xFFFF for bit in range(16) if mask >> bit & 1)
        listener.nack(lost[:NACKED_MOST])

    def _keyframe(self, ssrc: int) -> None:
        listener = self._listeners.get(ssrc)
        if listener is not None:
            listener.keyframe()


def _word(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "big")


def socket_of(transport: asyncio.DatagramTransport) -> socket.socket:
    """The socket under an asyncio datagram transport. Sending on it directly skips the
    transport's buffer: a datagram the kernel cannot take now is dropped, not queued."""
    found = getattr(transport, "_sock", None)
    if not isinstance(found, socket.socket):
        raise Unsupported("asyncio's datagram transport has no socket to send on")
    return found
