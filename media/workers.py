"""Media workers seen from the server: processes that own subscribers' `sub` connections.

`WorkerPool` starts N `media.worker` processes, each with a socketpair
(`media.link`), and restarts one that dies. The server keeps everything
else: signaling, the class, the publishers' `pub` connections and their
feeds. A `RemoteDownlink` is a participant's `sub` connection in a worker:
the SFU drives it through the same `Downlink` interface as one in process,
and the worker does the WebRTC. Binding a slot to a feed subscribes that
worker to the feed: each packet of a feed crosses to each worker once,
whatever number of its subscribers there.

A worker that dies takes its subscribers' `sub` connections with it: each
`RemoteDownlink` on it calls `on_lost`, the SFU offers that participant a
new connection (`rtc:offer` with `renew`), placed on a live worker, or on
the dead one's replacement once it says it is ready.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

from classroom.errors import DomainError
from media.link import Link
from media.packets import Packet
from media.tracks import Feed, Tally

log = logging.getLogger(__name__)

CALL_S = 15.0
"""How long a worker may take to answer an order (an offer, an answer)."""
RESTART_S = (0.2, 5.0)
"""Wait before restarting a worker that died: the first, and at most after repeated deaths."""

Order = dict[str, Any]


class Worker:
    """One worker process, and the same worker's replacements after a death (`generation`)."""

    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.generation = 0
        self.process: asyncio.subprocess.Process | None = None
        self.link: Link | None = None
        self.ready = asyncio.Event()
        self.downlinks: set[RemoteDownlink] = set()
        self.feeds: dict[int, int] = {}
        """Feed number -> slots of this worker bound to it."""
        self.stats: dict[str, int] = {}
        self._pending: list[Order] = []
        """Orders given while the process starts."""
        self._calls: dict[int, asyncio.Future[Order]] = {}
        self._resync: set[int] = set()
        """Feeds whose next packet here must say `resync` (one was dropped)."""

    # -- orders ------------------------------------------------------------------------

    def send(self, order: Order) -> None:
        if self.ready.is_set() and self.link is not None:
            self.link.send(order)
        else:
            self._pending.append(order)

    async def call(self, order: Order) -> Order:
        number = next(self.pool.ids)
        future: asyncio.Future[Order] = asyncio.get_running_loop().create_future()
        self._calls[number] = future
        self.send(order | {"id": number})
        try:
            async with asyncio.timeout(CALL_S):
                reply = await future
        except TimeoutError:
            raise DomainError("internal", "the media worker did not answer") from None
        finally:
            self._calls.pop(number, None)
        if "error" in reply:
            code, message = reply["error"]
            raise DomainError(code, str(message))
        return reply

    # -- feeds ----------------------------------------------------------------------------

    def acquire(self, feed: Feed) -> None:
        """One more slot here is bound to `feed`: its packets start coming at the first."""
        count = self.feeds.get(feed.number, 0)
        self.feeds[feed.number] = count + 1
        if count == 0:
            self.send({"op": "feed", "feed": feed.number, "kind": feed.kind, "mime": feed.mime})
            feed.relays[self] = self
            self._resync.discard(feed.number)

    def release(self, feed: Feed) -> None:
        count = self.feeds.get(feed.number, 0) - 1
        if count > 0:
            self.feeds[feed.number] = count
            return
        self.feeds.pop(feed.number, None)
        feed.relays.pop(self, None)
        self.send({"op": "drop_feed", "feed": feed.number})
        if not any(feed.number in w.feeds for w in self.pool.workers):
            self.pool.forget(feed)

    def packet(self, feed: Feed, packet: Packet, resync: bool) -> None:
        """A feed's packet, for this worker's subscribers (`tracks.Relay`)."""
        link = self.link
        if link is None or not self.ready.is_set():
            return
        number = feed.number
        resync = resync or number in self._resync
        if link.send_packet(number, feed.epoch, packet, resync):
            if resync:
                self._resync.discard(number)
        else:
            self._resync.add(number)

    def report(self, feed: Feed) -> None:
        if feed.report is not None:
            epoch, ntp, stamp = feed.report
            self.send(
                {"op": "report", "feed": feed.number, "epoch": epoch, "ntp": ntp, "rtp": stamp}
            )

    # -- the process ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the process and wait until it says it is ready."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        link = self.link = Link(self._event)
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "media.worker",
                *("--fd", str(theirs.fileno()), *self.pool.arguments),
                stdin=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        loop = asyncio.get_running_loop()
        await loop.connect_accepted_socket(lambda: link, ours)

    def _event(self, message: Order) -> None:
        if "re" in message:
            future = self._calls.get(int(message["re"]))
            if future is not None and not future.done():
                future.set_result(message)
            return
        match message.get("ev"):
            case "ready":
                self._ready()
            case "keyframe":
                feed = self.pool.feeds.get(int(message["feed"]))
                if feed is not None:
                    feed.want_keyframe()
            case "stats":
                self.stats = {k: int(v) for k, v in message.items() if k != "ev"}

    def _ready(self) -> None:
        assert self.link is not None
        self.ready.set()
        pending, self._pending = self._pending, []
        for order in pending:
            self.link.send(order)
        log.info("media worker %d (pid %s) is ready", self.index, self.pid)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def watch(self) -> None:
        """Wait for the process to end; then mourn it and start the next one."""
        deaths = 0
        while not self.pool.closed:
            assert self.process is not None and self.link is not None
            await asyncio.wait(
                [asyncio.ensure_future(self.process.wait()), self.link.closed],
                return_when=asyncio.FIRST_COMPLETED,
            )
            if self.pool.closed:
                return
            log.warning("media worker %d (pid %s) died; restarting it", self.index, self.pid)
            self._died()
            deaths += 1
            await asyncio.sleep(min(RESTART_S[0] * 2 ** (deaths - 1), RESTART_S[1]))
            if self.pool.closed:
                return
            await self.start()

    def _died(self) -> None:
        """Forget the dead process: its calls fail, its feeds stop, its downlinks are lost."""
        if self.link is not None:
            self.link.close()
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
        self.ready.clear()
        self.generation += 1
        self._pending.clear()
        self.pool.retire(self.stats)
        self.stats = {}
        for future in self._calls.values():
            if not future.done():
                future.set_result({"error": ["conflict", "the media worker restarted"]})
        for number in self.feeds:
            feed = self.pool.feeds.get(number)
            if feed is not None:
                feed.relays.pop(self, None)
        self.feeds.clear()
        lost, self.downlinks = self.downlinks, set()
        for downlink in lost:
            downlink.lost()

    async def stop(self) -> None:
        if self.link is not None:
            self.link.close()
        if self.process is not None and self.process.returncode is None:
            try:
                async with asyncio.timeout(5):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


class WorkerPool:
    def __init__(self, count: int, arguments: tuple[str, ...] = ()) -> None:
        self.workers = [Worker(self, i) for i in range(count)]
        self.arguments = arguments
        """Passed to every `python -m media.worker` (media hosts, log level)."""
        self.ids = itertools.count(1)
        self.feeds: dict[int, Feed] = {}
        """Feed number -> feed, for the workers' keyframe requests."""
        self.closed = False
        self.retired: dict[str, int] = {}
        """Totals of workers that died (so that counters never go back)."""
        self._feed_numbers = itertools.count(1)
        self._watching: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await asyncio.gather(*(w.start() for w in self.workers))
        self._watching = [asyncio.ensure_future(w.watch()) for w in self.workers]

    def number(self, feed: Feed) -> int:
        """The feed's node-wide number, given on first use (and known again after `forget`:
        a slot may be bound back to a feed no worker had left)."""
        if not feed.number:
            feed.number = next(self._feed_numbers)
        self.feeds[feed.number] = feed
        return feed.number

    def place(self) -> RemoteDownlink:
        """A new `sub` connection, on the worker with the fewest (a ready one if any)."""
        ready = [w for w in self.workers if w.ready.is_set()] or self.workers
        worker = min(ready, key=lambda w: len(w.downlinks))
        return RemoteDownlink(worker, next(self.ids))

    def forget(self, feed: Feed) -> None:
        self.feeds.pop(feed.number, None)

    def retire(self, stats: dict[str, int]) -> None:
        for name, value in stats.items():
            self.retired[name] = self.retired.get(name, 0) + value

    def totals(self) -> Tally:
        """What the workers forwarded, including those that died."""
        out = Tally()
        for name in ("delivered", "dropped", "packets", "retransmitted"):
            live = sum(w.stats.get(name, 0) for w in self.workers)
            setattr(out, name, self.retired.get(name, 0) + live)
        return out

    async def close(self) -> None:
        self.closed = True
        for task in self._watching:
            task.cancel()
        await asyncio.gather(*self._watching, return_exceptions=True)
        await asyncio.gather(*(w.stop() for w in self.workers))


class RemoteDownlink:
    """A participant's `sub` connection in a media worker (see `downlink.Downlink`)."""

    def __init__(self, worker: Worker, number: int) -> None:
        self.worker = worker
        self.number = number
        self.generation = worker.generation
        self.on_lost: Callable[[], None] | None = None
        self.feeds: list[Feed | None] = []
        """What each slot is bound to (for the worker's feed subscriptions)."""
        self._stable = True
        self._closed = False
        worker.downlinks.add(self)
        worker.send({"op": "open", "sub": number})

    @property
    def stable(self) -> bool:
        return self._stable

    def add_slot(self, kind: str, mime: str) -> int:
        self.worker.send({"op": "slot", "sub": self.number, "kind": kind, "mime": mime})
        self.feeds.append(None)
        return len(self.feeds) - 1

    def bind(self, index: int, feed: Feed | None) -> None:
        old = self.feeds[index]
        if old is feed:
            return
        self.feeds[index] = feed
        if feed is not None:
            self.worker.pool.number(feed)
            self.worker.acquire(feed)
        self.worker.send(
            {"op": "bind", "sub": self.number, "slot": index, "feed": feed and feed.number}
        )
        if old is not None:
            self.worker.release(old)
        if feed is not None:
            self.worker.report(feed)

    async def offer(self) -> tuple[str, dict[str, int]]:
        reply = await self._call({"op": "offer"})
        self._stable = False
        return str(reply["sdp"]), {str(k): int(v) for k, v in reply["mids"].items()}

    async def answer(self, text: str) -> None:
        if self._stable:
            raise DomainError("conflict", "no offer is waiting for an answer")
        await self._call({"op": "answer", "sdp": text})
        self._stable = True

    async def candidate(self, line: str | None, mid: str | None, index: int | None) -> None:
        await self._call({"op": "candidate", "line": line, "mid": mid, "index": index})

    async def _call(self, order: Order) -> Order:
        if self._closed or self.generation != self.worker.generation:
            raise DomainError("conflict", "this sub connection is gone; a new offer follows")
        return await self.worker.call(order | {"sub": self.number})

    def lost(self) -> None:
        """The worker died with this connection (its feeds went with it)."""
        self._closed = True
        self.feeds = [None] * len(self.feeds)
        if self.on_lost is not None:
            self.on_lost()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.worker.downlinks.discard(self)
        for feed in self.feeds:
            if feed is not None:
                self.worker.release(feed)
        if self.generation == self.worker.generation:
            self.worker.send({"op": "close", "sub": self.number})
