"""A Socket.IO client on a bare TCP socket, for clients that misbehave on purpose.

It sends any frame it is given, reads only when asked, can stop reading
altogether (its kernel buffer then fills and the server's writes back up), and
offers permessage-deflate as browsers do. WebSocket framing is wsproto's; the
Engine.IO and Socket.IO layers (msgpack wire) are written out by hand, which
is the point: a well-behaved library would not send what these tests send.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import urlsplit

import msgpack  # type: ignore[import-untyped]
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate

WAIT_S = 10.0
PATH = "/socket.io/?EIO=4&transport=websocket"


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.extensions: list[str] = []
        """The extensions the server accepted in its handshake."""
        self.messages: list[str | bytes] = []
        self._partial: list[Any] = []

    @classmethod
    async def open(
        cls,
        url: str,
        headers: list[tuple[str, str]] | None = None,
        deflate: bool = False,
        rcvbuf: int | None = None,
    ) -> RawClient:
        parts = urlsplit(url)
        sock = socket.socket()
        if rcvbuf is not None:  # before connecting, so the window is small from the start
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        client = cls(reader, writer)
        offer = [PerMessageDeflate()] if deflate else []
        host = f"{parts.hostname}:{parts.port}"
        request = Request(host=host, target=PATH, extensions=offer, extra_headers=headers or [])
        client._write(client.ws.send(request))
        await client._handshake()
        return client

    async def _handshake(self) -> None:
        async with asyncio.timeout(WAIT_S):
            while self.ws.state is not ConnectionState.OPEN:
                for event in await self._events():
                    if isinstance(event, AcceptConnection):
                        self.extensions = [ext.name for ext in event.extensions]
                    elif isinstance(event, RejectConnection):
                        raise ConnectionError(f"refused: {event.status_code}")
                    else:
                        self._take(event)  # what came with the handshake's answer

    # -- sending -----------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self.writer.write(data)

    def send_text(self, text: str) -> None:
        self._write(self.ws.send(Message(data=text)))

    def send_bytes(self, data: bytes) -> None:
        self._write(self.ws.send(Message(data=data)))

    def send_packet(self, packet: dict[str, Any]) -> None:
        """A Socket.IO packet on the msgpack wire."""
        self.send_bytes(msgpack.packb(packet))

    def pong(self) -> None:
        self.send_text("3")

    # -- receiving ---------------------------------------------------------

    async def _events(self) -> list[Any]:
        data = await self.reader.read(65536)
        self.ws.receive_data(data or None)
        return list(self.ws.events())

    async def receive(self) -> str | bytes:
        """The next whole message, answering the server's pings on the way."""
        async with asyncio.timeout(WAIT_S):
            while not self.messages:
                for event in await self._events():
                    self._take(event)
            return self.messages.pop(0)

    def _take(self, event: Any) -> None:
        if isinstance(event, TextMessage | BytesMessage):
            self._partial.append(event.data)
            if event.message_finished:
                whole = (
                    "".join(self._partial)
                    if isinstance(event, TextMessage)
                    else b"".join(self._partial)
                )
                self._partial = []
                if whole == "2":
                    self.pong()
                else:
                    self.messages.append(whole)
        elif isinstance(event, CloseConnection):
            self.messages.append("")  # the server closed

    async def join(self, token: str, expect: str = "class:state") -> dict[str, Any]:
        """Engine.IO open, Socket.IO connect with the token; returns the snapshot."""
        opened = await self.receive()
        assert isinstance(opened, str) and opened.startswith("0"), opened
        self.send_packet({"type": 0, "nsp": "/", "data": {"token": token}})
        while True:
            packet = await self.packet()
            if packet.get("type") == 4:
                raise ConnectionError(f"connect refused: {packet.get('data')}")
            data = packet.get("data")
            if packet.get("type") == 2 and data and data[0] == expect:
                return dict(data[1])

    async def packet(self) -> dict[str, Any]:
        """The next Socket.IO packet (msgpack wire)."""
        while True:
            message = await self.receive()
            if message == "":
                raise ConnectionError("closed by the server")
            if isinstance(message, bytes):
                return dict(msgpack.unpackb(message))

    async def ack(self, ack_id: int) -> Any:
        """The payload of the ack with this id (other packets are skipped)."""
        while True:
            packet = await self.packet()
            if packet.get("type") == 3 and packet.get("id") == ack_id:
                return packet["data"][0]

    def stop_reading(self) -> None:
        """Read nothing more: what the server sends piles up in the kernel, then in it."""
        transport = self.writer.transport
        assert isinstance(transport, asyncio.ReadTransport)
        transport.pause_reading()

    async def closed_by_server(self) -> bool:
        """Whether the server ended the connection (reads what is left to find out)."""
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    return True
        except ConnectionError:
            return True

    def close(self) -> None:
        self.writer.close()
