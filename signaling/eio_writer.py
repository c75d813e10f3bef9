"""Where the server reaches into python-engineio's sockets: fan-out, bounded output, liveness.

Every WebSocket connection has a writer task that waits for the next packet
in its queue. python-engineio waits with `asyncio.wait_for`, which on Python
3.11 wraps each wait in a new task and arms a timer; `LeanSocket` waits on
the queue itself (its WebSocket reader times out a silent peer and then
stops the writer; a long-polling socket keeps the library's timeout).

A broadcast goes to a thousand sockets, so what it costs per socket counts
(docs/benchmarks.md). When a socket's writer is idle, holds nothing and its
connection has nothing buffered, the broadcast writes the frame to the
connection itself: a server's WebSocket frames are not masked, so one
encoded frame serves every uncompressed connection, and nothing is woken.
Otherwise the packet joins the queue, behind what is already waiting.

What waits for a socket is bounded (`OutputPolicy`): past a number of
packets or bytes the client is not reading, and it is dropped, with a reason
logged and counted. Liveness does not trust the client either: a PONG counts
only once the PING it answers has been written to the connection, so a client
that never reads cannot stay connected by sending PONGs on its own; the ping
deadline is checked on the library's timer whatever the client sends.

WebSocket connections are made here too (`WebSocketDriver`, the library's
aiohttp wrapper with its options exposed): permessage-deflate only when the
server is configured for it, as Node's socket.io does by default.

This module is the only place that relies on python-engineio's socket
internals (`queue`, `upgraded`, `closed`, `poll`, `last_ping`, the driver
table); the version is bounded in pyproject.toml and tests/test_eio_writer.py
and tests/test_output.py cover them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import socketio
from aiohttp import web
from engineio import async_socket, exceptions
from engineio import packet as eio_packet

from signaling.tasks import TaskSet

log = logging.getLogger(__name__)

ENGINEIO_TYPES = frozenset("0123456")
"""First characters of the Engine.IO text packets a client may send."""

Dropped = Callable[[str, str, str], None]
"""(Engine.IO sid, reason, detail): told when a socket is cut for misbehaving."""


@dataclass(frozen=True)
class OutputPolicy:
    packets: int = 8192
    """Packets that may wait for one socket (a catch-up of 5,000 events fits)."""
    bytes: int = 2 * 1024 * 1024
    """Bytes that may wait for one socket."""
    compression: bool = False
    """Accept permessage-deflate when a client offers it (browsers always do)."""
    dropped: Dropped | None = None


def _policy(server: Any) -> OutputPolicy:
    policy: OutputPolicy = getattr(server, "classroom_output", None) or OutputPolicy()
    return policy


def _size(pkt: Any) -> int:
    data = getattr(pkt, "data", None)
    return len(data) if isinstance(data, str | bytes) else 16


class LeanSocket(async_socket.AsyncSocket):  # type: ignore[misc]
    def adopt(self) -> None:
        """State added to a library socket when it becomes a LeanSocket."""
        self.queued_bytes = 0
        self.idle = False
        """The writer waits for a packet and holds none: nothing is on its way."""
        self.driver: WebSocketDriver | None = None
        self.dropped = ""
        self.ping_unwritten = False
        """A PING is queued or being written: a PONG now cannot answer it."""
        self._batch_has_ping = False

    # -- what the writer sends ---------------------------------------------

    async def poll(self) -> list[Any]:
        """Wait for packets to send to the client (as AsyncSocket.poll)."""
        if self._batch_has_ping:
            # The writer asks for more only after writing the last batch out.
            self._batch_has_ping = self.ping_unwritten = False
        try:
            if not self.queue.empty():
                first = self.queue.get_nowait()
            elif self.upgraded:
                # The WebSocket reader times out a silent peer and then queues
                # None to stop this writer: a timer per wait is not needed.
                self.idle = True
                try:
                    first = await self.queue.get()
                finally:
                    self.idle = False
            else:
                async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                    first = await self.queue.get()
            self.queue.task_done()
        except (TimeoutError, asyncio.CancelledError):
            raise exceptions.QueueEmpty() from None
        if first is None:
            return []
        packets = [first]
        while not self.queue.empty():
            pkt = self.queue.get_nowait()
            self.queue.task_done()
            if pkt is None:
                self.queue.put_nowait(None)  # the writer stops after this batch
                break
            packets.append(pkt)
        for pkt in packets:
            self.queued_bytes -= _size(pkt)
            if pkt.packet_type != eio_packet.PING:
                continue
            if self.upgraded:
                self._batch_has_ping = True
            else:
                self.ping_unwritten = False  # a long-poll's answer is written as this returns
        self.queued_bytes = max(0, self.queued_bytes)
        return packets

    async def send(self, pkt: Any) -> None:
        """Queue a packet for the client (as AsyncSocket.send), within the bound."""
        if not await self.check_ping_timeout():
            return
        if pkt.packet_type == eio_packet.PING:
            self.ping_unwritten = True
        self.put(pkt)

    def deliver(self, pkt: SharedPacket) -> None:
        """Hand a broadcast packet over: written at once when nothing is ahead of it."""
        if self.closed or self.closing:
            return
        driver = self.driver
        if self.idle and self.queue.empty() and driver is not None and driver.write_now(pkt):
            return
        self.put(pkt)

    def put(self, pkt: Any) -> None:
        size = _size(pkt)
        policy = _policy(self.server)
        if self.queue.qsize() >= policy.packets or self.queued_bytes + size > policy.bytes:
            waiting = f"{self.queue.qsize()} packets, {self.queued_bytes} bytes waiting"
            self.drop("backlog", f"the client is not reading ({waiting})")
            return
        self.queued_bytes += size
        self.queue.put_nowait(pkt)

    # -- what the client sends -----------------------------------------------

    async def receive(self, pkt: Any) -> None:
        if pkt.packet_type == eio_packet.PONG and self.ping_unwritten:
            return  # the PING it would answer has not reached the connection yet
        await super().receive(pkt)

    async def check_ping_timeout(self) -> bool:
        """Called by the library's timer for every socket, and before each send."""
        last_ping = self.last_ping
        if not self.closed and last_ping and time.time() - last_ping > self.server.ping_timeout:
            self.drop("ping_timeout", "no PONG to a PING written within the ping timeout")
            return False
        alive: bool = await super().check_ping_timeout()
        return alive

    # -- cutting a client off ------------------------------------------------

    def drop(self, reason: str, detail: str) -> None:
        """Disconnect a client that does not keep up, freeing what waits for it."""
        if self.dropped:
            return
        self.dropped = reason
        policy = _policy(self.server)
        if policy.dropped is not None:
            policy.dropped(self.sid, reason, detail)
        else:
            log.warning("socket %s dropped: %s: %s", self.sid, reason, detail)
        while not self.queue.empty():
            self.queue.get_nowait()
            self.queue.task_done()
        self.queued_bytes = 0
        self.queue.put_nowait(None)  # stops the writer
        if self.driver is not None:
            self.driver.abort()  # ends the reader, which closes the socket
        if not self.closed and not self.closing:
            why = self.server.reason
            closed = why.PING_TIMEOUT if reason == "ping_timeout" else why.TRANSPORT_ERROR
            _spawn(self.close(wait=False, abort=True, reason=closed))


_tasks = TaskSet()


def _spawn(coro: Any) -> None:
    _tasks.spawn(coro)


class WebSocketDriver:
    """python-engineio's aiohttp WebSocket wrapper, with compression chosen by the server."""

    def __init__(self, handler: Any, server: Any) -> None:
        self.handler = handler
        self.server = server
        self._sock: web.WebSocketResponse | None = None
        self._transport: asyncio.Transport | None = None
        self.shared_frames = False
        """Whether a broadcast's one encoded frame may be written here (no compression)."""

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        request: web.Request = environ["aiohttp.request"]
        policy = _policy(self.server)
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=policy.compression
        )
        await self._sock.prepare(request)
        transport = request.transport
        self._transport = transport if isinstance(transport, asyncio.Transport) else None
        self.shared_frames = not self._sock.compress
        socket = getattr(self.handler, "__self__", None)
        if isinstance(socket, LeanSocket):
            socket.driver = self
        await self.handler(self)
        return self._sock

    async def close(self) -> None:
        assert self._sock is not None
        await self._sock.close()

    async def send(self, message: str | bytes) -> None:
        assert self._sock is not None
        if isinstance(message, bytes):
            await self._sock.send_bytes(message)
        else:
            await self._sock.send_str(message)

    async def wait(self) -> str | bytes:
        assert self._sock is not None
        msg = await self._sock.receive()
        data = msg.data
        if isinstance(data, bytes):
            return data
        if isinstance(data, str) and data[:1] in ENGINEIO_TYPES:
            return data
        # Closed, or not Engine.IO (the library would raise on it): end the connection.
        raise OSError("connection closed or not Engine.IO")

    def write_now(self, pkt: SharedPacket) -> bool:
        """Write a broadcast frame straight to the connection, if nothing is buffered there."""
        transport = self._transport
        if (
            not self.shared_frames
            or transport is None
            or transport.is_closing()
            or transport.get_write_buffer_size()
        ):
            return False
        transport.write(pkt.frame())
        return True

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


def install(sio: socketio.AsyncServer, policy: OutputPolicy) -> None:
    """Give every socket that connects to `sio` the lean writer and the output policy."""
    eio = sio.eio
    eio.classroom_output = policy
    eio._async = {**eio._async, "websocket": WebSocketDriver}
    on_connect = eio.handlers["connect"]

    async def connect(eio_sid: str, environ: dict[str, Any]) -> Any:
        socket = eio.sockets.get(eio_sid)
        if type(socket) is async_socket.AsyncSocket:
            socket.__class__ = LeanSocket
            socket.adopt()
        return await on_connect(eio_sid, environ)

    eio.on("connect", connect)


def enqueue(eio: Any, eio_sid: str, frame: SharedPacket) -> None:
    """Hand a broadcast packet to one socket, as `send_packet` does, without its coroutines.

    A broadcast hands the same packet to every recipient; the two coroutine
    calls and the log line `send_packet` adds per recipient cost more than
    the hand-over itself. Sockets past their ping timeout are closed by the
    ping task, which `send_packet` would otherwise also check here.
    """
    socket = eio.sockets.get(eio_sid)
    if isinstance(socket, LeanSocket):
        socket.deliver(frame)
    elif socket is not None and not socket.closed:
        socket.queue.put_nowait(frame)


_HEAD_SHORT = struct.Struct("!BB")
_HEAD_MEDIUM = struct.Struct("!BBH")
_HEAD_LONG = struct.Struct("!BBQ")


def ws_frame(payload: bytes, binary: bool) -> bytes:
    """One unmasked, final WebSocket frame (RFC 6455 section 5.2), as a server sends it."""
    first = 0x80 | (0x2 if binary else 0x1)
    length = len(payload)
    if length < 126:
        head = _HEAD_SHORT.pack(first, length)
    elif length < 1 << 16:
        head = _HEAD_MEDIUM.pack(first, 126, length)
    else:
        head = _HEAD_LONG.pack(first, 127, length)
    return head + payload


class SharedPacket(eio_packet.Packet):  # type: ignore[misc]
    """A message packet handed to many sockets at once.

    Engine.IO caches a packet's first encoding, but a binary (msgpack) packet
    encodes differently for a WebSocket (raw bytes) and for long-polling
    (base64 text): sharing one cached packet hands one transport the other's
    form. Binary packets are therefore encoded per send, which for a
    WebSocket is no work at all. The WebSocket frame is built once.
    """

    def __init__(self, data: str | bytes) -> None:
        super().__init__(eio_packet.MESSAGE, data)
        self._frame: bytes | None = None

    def encode(self, b64: bool = False) -> str | bytes:
        if not self.binary:
            return super().encode(b64)  # type: ignore[no-any-return]
        if b64:
            return "b" + base64.b64encode(self.data).decode("ascii")
        return self.data  # type: ignore[no-any-return]

    def frame(self) -> bytes:
        if self._frame is None:
            encoded = self.encode()
            payload = encoded if isinstance(encoded, bytes) else encoded.encode("utf-8")
            self._frame = ws_frame(payload, isinstance(encoded, bytes))
        return self._frame
