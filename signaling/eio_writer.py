"""Where the server reaches into python-engineio's sockets, for fan-out.

Every WebSocket connection has a writer task that waits for the next packet
in its queue. python-engineio waits with `asyncio.wait_for`, which on Python
3.11 wraps each wait in a new task and arms a timer: a broadcast to a
thousand sockets wakes a thousand writers, so a thousand tasks and timers,
about a fifth of the server's CPU in the fan-out profile
(docs/benchmarks.md). `LeanSocket` waits on the queue itself. A WebSocket
writer needs no timer (its reader times out a silent peer and then stops the
writer); a long-polling one keeps the library's timeout.

This module is the only place that relies on python-engineio's socket
internals (`queue`, `upgraded`, `closed`, `poll`); the version is bounded in
pyproject.toml and tests/test_eio_writer.py covers both transports.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import socketio
from engineio import async_socket, exceptions
from engineio import packet as eio_packet


class LeanSocket(async_socket.AsyncSocket):  # type: ignore[misc]
    async def poll(self) -> list[Any]:
        """Wait for packets to send to the client (as AsyncSocket.poll)."""
        try:
            if not self.queue.empty():
                first = self.queue.get_nowait()
            elif self.upgraded:
                # The WebSocket reader times out a silent peer and then queues
                # None to stop this writer: a timer per wait is not needed.
                first = await self.queue.get()
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
        return packets


def install(sio: socketio.AsyncServer) -> None:
    """Give every socket that connects to `sio` the lean writer."""
    eio = sio.eio
    on_connect = eio.handlers["connect"]

    async def connect(eio_sid: str, environ: dict[str, Any]) -> Any:
        socket = eio.sockets.get(eio_sid)
        if type(socket) is async_socket.AsyncSocket:
            socket.__class__ = LeanSocket
        return await on_connect(eio_sid, environ)

    eio.on("connect", connect)


def enqueue(eio: Any, eio_sid: str, frame: Any) -> None:
    """Queue a packet for one socket, as `send_packet` does, without its coroutines.

    A broadcast hands the same packet to every recipient; the two coroutine
    calls and the log line `send_packet` adds per recipient cost more than
    the hand-over itself. Sockets past their ping timeout are closed by the
    ping task, which `send_packet` would otherwise also check here.
    """
    socket = eio.sockets.get(eio_sid)
    if socket is not None and not socket.closed:
        socket.queue.put_nowait(frame)


class SharedPacket(eio_packet.Packet):  # type: ignore[misc]
    """A message packet handed to many sockets at once.

    Engine.IO caches a packet's first encoding, but a binary (msgpack) packet
    encodes differently for a WebSocket (raw bytes) and for long-polling
    (base64 text): sharing one cached packet hands one transport the other's
    form. Binary packets are therefore encoded per send, which for a
    WebSocket is no work at all.
    """

    def __init__(self, data: str | bytes) -> None:
        super().__init__(eio_packet.MESSAGE, data)

    def encode(self, b64: bool = False) -> str | bytes:
        if not self.binary:
            return super().encode(b64)  # type: ignore[no-any-return]
        if b64:
            return "b" + base64.b64encode(self.data).decode("ascii")
        return self.data  # type: ignore[no-any-return]
