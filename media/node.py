"""The media side of one server process: an SFU per class it hosts, created on first use."""

from __future__ import annotations

import logging

from classroom import events as e
from media import lanes
from media.ice import IceConfig
from media.sfu import Sfu
from media.tracks import Tally
from media.workers import WorkerPool
from signaling.runtime import ClassRuntime
from signaling.tasks import TaskSet

log = logging.getLogger(__name__)


class MediaNode:
    def __init__(self, ice: IceConfig, workers: int = 0) -> None:
        self.ice = ice
        ice.install()
        self.sfus: dict[str, Sfu] = {}
        self.tally = Tally()
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        arguments = ("--media-host", ",".join(ice.hosts), "--log-level", str(level))
        self.pool = WorkerPool(workers, arguments) if workers > 0 else None
        """The media workers that own subscribers' connections (None: this process does)."""
        self._closing = TaskSet()

    async def start(self) -> None:
        if not lanes.AVAILABLE:
            log.warning(
                "the native fan-out (media/fanout.c) was not built at install: every media "
                "packet is forwarded in Python, at about twice the CPU (see docs/operations.md)"
            )
        if self.pool is not None:
            await self.pool.start()

    def attach(self, runtime: ClassRuntime) -> None:
        """A registry hook: the class's events reach its SFU once it has one (the SFU is
        made on the class's first media request), and the SFU closes with the class."""

        async def to_sfu(ev: e.Event) -> None:
            sfu = self.sfus.get(runtime.class_id)
            if sfu is not None and sfu.runtime is runtime:
                await sfu.on_event(ev)

        def closed() -> None:
            sfu = self.sfus.get(runtime.class_id)
            if sfu is not None and sfu.runtime is runtime:
                self._close_later(sfu)

        runtime.listen(to_sfu)
        runtime.on_close(closed)

    def sfu(self, runtime: ClassRuntime) -> Sfu:
        """The SFU of a class, following the class if its runtime was reloaded."""
        for ended in [cid for cid, sfu in self.sfus.items() if sfu.closed]:
            del self.sfus[ended]
        current = self.sfus.get(runtime.class_id)
        if current is not None and current.runtime is runtime and not current.closed:
            return current
        if current is not None:
            self._close_later(current)
        downlinks = self.pool.place if self.pool is not None else None
        sfu = Sfu(runtime, self.ice, tally=self.tally, downlinks=downlinks)
        self.sfus[runtime.class_id] = sfu
        return sfu

    def _close_later(self, sfu: Sfu) -> None:
        if self.sfus.get(sfu.runtime.class_id) is sfu:
            del self.sfus[sfu.runtime.class_id]
        self._closing.spawn(sfu.close())

    def totals(self) -> Tally:
        """This process's forwarding figures, and its media workers'."""
        if self.pool is None:
            return self.tally
        out = self.pool.totals()
        out.frames_in, out.keyframe_requests = self.tally.frames_in, self.tally.keyframe_requests
        return out

    def peer_connections(self) -> int:
        return sum(sfu.peer_connections() for sfu in self.sfus.values())

    def tracks(self) -> int:
        return sum(len(sfu.feeds) for sfu in self.sfus.values())

    def streams(self) -> int:
        return sum(sfu.streams() for sfu in self.sfus.values())

    async def settle(self) -> None:
        """Wait for pending closes and journal writes of every SFU (tests, shutdown)."""
        for sfu in list(self.sfus.values()):
            await sfu.settle()
        while self._closing:
            await self._closing.wait()

    async def close(self) -> None:
        for sfu in list(self.sfus.values()):
            self._close_later(sfu)
        await self.settle()
        if self.pool is not None:
            await self.pool.close()
