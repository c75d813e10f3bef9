"""A Socket.IO manager that broadcasts without a task per recipient.

python-socketio's AsyncManager.emit encodes a broadcast once, then creates
one asyncio task per recipient and waits for them all. Handing a packet to a
socket only appends it to that socket's queue, so the tasks buy nothing but
their own cost, which dominates a broadcast to a thousand sockets. This
manager hands the packet to each socket in turn. Emits with an ack callback
keep the library's own path.
"""

from __future__ import annotations

from typing import Any

import socketio
from socketio import packet

from signaling import eio_writer


class FanoutManager(socketio.AsyncManager):  # type: ignore[misc]
    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:
            await super().emit(event, data, namespace, room, skip_sid, callback, to, **kwargs)
            return
        room = to or room
        if namespace not in self.rooms:
            return
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        frames = [
            eio_writer.SharedPacket(part)
            for part in (encoded if isinstance(encoded, list) else [encoded])
        ]
        eio = self.server.eio
        for sid, eio_sid in list(self.get_participants(namespace, room)):
            if sid in skip:
                continue
            for frame in frames:
                eio_writer.enqueue(eio, eio_sid, frame)
