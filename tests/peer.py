"""A real python-socketio client that records what it receives, for functional tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import socketio

WAIT_S = 10.0


class Refused(Exception):
    def __init__(self, data: Any) -> None:
        super().__init__(str(data))
        # python-socketio hands over {"message", "data"}; the wire contract is in "data".
        if isinstance(data, dict) and isinstance(data.get("data"), dict):
            data = data["data"]
        self.data = data
        self.code = data.get("code") if isinstance(data, dict) else None


class Peer:
    """One connected user. Every received event is kept, in order, in `events`."""

    def __init__(
        self,
        url: str,
        token: str,
        wire: str = "msgpack",
        transports: tuple[str, ...] = ("websocket",),
    ) -> None:
        self.url = url
        self.token = token
        self.transports = list(transports)
        self.wait_s = WAIT_S
        """How long a connect, call or wait may take before the test fails."""
        self.sio = socketio.AsyncClient(
            serializer="msgpack" if wire == "msgpack" else "default", reconnection=False
        )
        self.events: list[tuple[str, Any]] = []
        self.batches = 0
        """`class:batch` messages received (their events are in `events`)."""
        self._arrived = asyncio.Event()
        self._refusal: Any = None
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._refused)
        self.sio.on("disconnect", self._disconnected)
        self.disconnected = asyncio.Event()

    async def _record(self, event: str, *args: Any) -> None:
        data = args[0] if args else None
        if event == "class:batch":  # consecutive events in one message: unpacked, as clients do
            self.events.extend((name, payload) for name, payload in data["events"])
            self.batches += 1
        else:
            self.events.append((event, data))
        self._arrived.set()

    async def _refused(self, data: Any) -> None:
        self._refusal = data

    async def _disconnected(self, *_: Any) -> None:
        self.disconnected.set()

    async def connect(
        self, last_seq: int | None = None, expect: str | None = None, **auth_extra: Any
    ) -> Any:
        """Connect and wait for the snapshot (or `class:resumed` when resuming)."""
        auth: dict[str, Any] = {"token": self.token, **auth_extra}
        if last_seq is not None:
            auth["last_seq"] = last_seq
        self.disconnected.clear()
        try:
            await self.sio.connect(
                self.url, auth=auth, transports=self.transports, wait_timeout=self.wait_s
            )
        except socketio.exceptions.ConnectionError as exc:
            raise Refused(self._refusal or str(exc)) from exc
        wanted = expect or ("class:resumed" if last_seq is not None else "class:state")
        return await self.wait_for(wanted)

    async def wait_for(
        self, event: str, where: Callable[[Any], bool] = lambda _: True, after: int = 0
    ) -> Any:
        """The first `event` (from index `after` on) that matches; waits for it if needed."""
        async with asyncio.timeout(self.wait_s):
            while True:
                for name, data in self.events[after:]:
                    if name == event and where(data):
                        return data
                self._arrived.clear()
                await self._arrived.wait()

    def received(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    @property
    def last_seq(self) -> int:
        seqs = [d["seq"] for _, d in self.events if isinstance(d, dict) and "seq" in d]
        return max(seqs, default=0)

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data if data is not None else {}, timeout=self.wait_s)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
