"""A lean Socket.IO v5 client over one WebSocket, msgpack or JSON wire, for load generators.

python-socketio's AsyncClient costs more CPU per message than the server
spends sending it; a thousand of them on a small machine measure the load
generator, not the server. This client speaks just what a benchmark needs
(Engine.IO v4 over WebSocket: open, ping/pong, binary messages; Socket.IO
CONNECT with auth, events, acks) and hands each event to a callback.

The msgpack wire (the server's default) sends each Socket.IO packet as one
binary frame holding a msgpack map. The JSON wire (`serve --wire json`)
sends text frames: the Engine.IO message type `4`, the Socket.IO packet type,
an optional ack id, then JSON (`42["event",data]`, `40{auth}`, `43<id>[...]`).
Either way `bytes_in` counts the payload bytes of every frame received
(after decompression, when the server accepted permessage-deflate).

Like a browser, the client offers permessage-deflate in its handshake: what a
server does with that offer (accept it and compress every message, as
`classroom serve --ws-compression` does, or refuse it, the default here and
in Node's socket.io) is part of what it costs, so a benchmark must not hide it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import msgpack  # type: ignore[import-untyped]

CONNECT, EVENT, ACK = 0, 2, 3
CONNECT_ERROR = 4

OnEvent = Callable[[str, Any], None]


class Refused(Exception):
    pass


class SioClient:
    def __init__(
        self, http: aiohttp.ClientSession, url: str, on_event: OnEvent, wire: str = "msgpack"
    ) -> None:
        if wire not in ("msgpack", "json"):
            raise ValueError(f"unknown wire {wire!r}")
        self.http = http
        self.url = url
        self.on_event = on_event
        self.json = wire == "json"
        self.bytes_in = 0
        """Payload bytes of every WebSocket frame received (framing headers not counted)."""
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._connected: asyncio.Future[Any] | None = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, auth: dict[str, Any], wait_s: float = 60) -> None:
        ws_url = self.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        # compress=15 offers permessage-deflate, as every browser does; the server decides.
        self.ws = await self.http.ws_connect(ws_url, max_msg_size=0, autoping=False, compress=15)
        opening = await self.ws.receive(timeout=wait_s)
        if opening.type != aiohttp.WSMsgType.TEXT or not opening.data.startswith("0"):
            raise Refused(f"no Engine.IO open packet: {opening!r}")
        self._connected = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        await self._send({"type": CONNECT, "nsp": "/", "data": auth})
        await asyncio.wait_for(self._connected, wait_s)

    async def call(self, event: str, data: Any, wait_s: float = 60) -> Any:
        """Emit with an acknowledgement and return the ack's payload."""
        self._next_id += 1
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[self._next_id] = done
        await self._send({"type": EVENT, "nsp": "/", "data": [event, data], "id": self._next_id})
        return await asyncio.wait_for(done, wait_s)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()

    async def _send(self, packet: dict[str, Any]) -> None:
        assert self.ws is not None
        if self.json:
            await self.ws.send_str(encode_text(packet))
        else:
            await self.ws.send_bytes(msgpack.packb(packet))

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.bytes_in += len(msg.data)
                self._packet(msgpack.unpackb(msg.data))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                text: str = msg.data
                self.bytes_in += len(text) if text.isascii() else len(text.encode())
                if text == "2":
                    await self.ws.send_str("3")  # Engine.IO pong
                elif text.startswith("4"):
                    self._packet(decode_text(text))
        if self._connected is not None and not self._connected.done():
            self._connected.set_exception(Refused("closed while connecting"))

    def _packet(self, packet: dict[str, Any]) -> None:
        kind, data = packet.get("type"), packet.get("data")
        if kind == EVENT and isinstance(data, list) and data:
            self.on_event(data[0], data[1] if len(data) > 1 else None)
        elif kind == ACK:
            done = self._acks.pop(packet.get("id", -1), None)
            if done is not None and not done.done():
                done.set_result(data[0] if isinstance(data, list) and data else None)
        elif kind == CONNECT and self._connected is not None and not self._connected.done():
            self._connected.set_result(data)
        elif kind == CONNECT_ERROR and self._connected is not None and not self._connected.done():
            self._connected.set_exception(Refused(json.dumps(data)))


def encode_text(packet: dict[str, Any]) -> str:
    """A Socket.IO packet as the text of an Engine.IO message (default namespace only)."""
    head = f"4{packet['type']}{packet.get('id', '')}"
    data = packet.get("data")
    return head if data is None else head + json.dumps(data, separators=(",", ":"))


def decode_text(text: str) -> dict[str, Any]:
    """The Socket.IO packet in an Engine.IO message's text (`4` + type + id? + JSON)."""
    packet: dict[str, Any] = {"type": int(text[1]), "nsp": "/"}
    end = 2
    while end < len(text) and text[end].isdigit():
        end += 1
    if end > 2:
        packet["id"] = int(text[2:end])
    if end < len(text):
        packet["data"] = json.loads(text[end:])
    return packet
