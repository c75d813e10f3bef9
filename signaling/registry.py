"""The classes this node hosts, loaded from and created in the journal.

A class is loaded on first use (a socket connects, a request needs it) and
unloaded once nobody has been connected to it for a while (`idle_s`), or soon
after it ended (`ended_s`), with no recording running: memory holds the
classes in use, not every class ever held. Without a cluster, the set of
hosted classes is kept in a file (`HostedSet`) so that a restart after a
crash rebuilds those, and records that their people left, at once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any

from classroom import events as e
from classroom.aggregate import Classroom
from classroom.errors import DomainError
from journal import Journal, JournalConflict
from journal.hosted import HostedSet
from signaling.cluster import LocalOwnership, Ownership
from signaling.metrics import Metrics
from signaling.runtime import TAIL, ClassRuntime, Listener, now_ms
from signaling.tasks import OneAtATime, TaskSet, every
from signaling.transport import Transport

log = logging.getLogger(__name__)

CLASS_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def new_class_id() -> str:
    """72 random bits, URL-safe, never starting with "-": ids go on command lines
    (`classroom token --class ID`) where a leading dash reads as a flag."""
    while (class_id := secrets.token_urlsafe(9)).startswith("-"):
        pass
    return class_id


class Registry:
    def __init__(
        self,
        journal: Journal,
        transport: Transport,
        media: dict[str, Any],
        ownership: Ownership | None = None,
        metrics: Metrics | None = None,
        hosted: HostedSet | None = None,
        idle_s: float = 900.0,
        ended_s: float = 60.0,
    ) -> None:
        self.journal = journal
        self.ownership: Ownership = ownership or LocalOwnership("")
        self._loading = OneAtATime(self._claim_and_load)
        self.on_runtime: list[Callable[[ClassRuntime], object]] = []
        """The class's services: each is called with every runtime this node creates,
        before it serves anything, and attaches itself with `runtime.listen` and
        `runtime.on_close` (timers, coalescers, the SFU, the recorder, webhooks)."""
        self.transport = transport
        self.media = media
        self.runtimes: dict[str, ClassRuntime] = {}
        self.metrics = metrics or Metrics()
        self.hosted = hosted
        self.idle_s = idle_s
        """How long a class nobody is connected to stays loaded."""
        self.ended_s = ended_s
        """How long an ended class stays loaded (its last sockets are closing)."""
        self._closing = TaskSet()
        self._sweeper: asyncio.Task[None] | None = None

    async def load_hosted(self) -> int:
        """Rebuild the classes this server hosted when it stopped; returns how many."""
        for class_id in self.hosted.load() if self.hosted is not None else []:
            try:
                await self.ownership.claim(class_id)
                await self._load(class_id)
            except Exception:
                log.exception("class %s could not be rebuilt from its journal", class_id)
        return len(self.runtimes)

    def start(self) -> None:
        """Unload the classes nobody uses, from now on."""
        period = max(0.05, min(self.idle_s, self.ended_s) / 4)
        self._sweeper = asyncio.create_task(every(period, self._sweep, "unloading classes"))

    def _sweep(self) -> None:
        for runtime in list(self.runtimes.values()):
            if runtime.ended_for(self.ended_s) or runtime.idle_for(self.idle_s):
                self._retire(runtime)

    def _retire(self, runtime: ClassRuntime) -> None:
        """Unload a class nobody uses; it loads again from its journal when asked for."""
        if self.runtimes.get(runtime.class_id) is runtime:
            del self.runtimes[runtime.class_id]
        runtime.failed = True  # a socket that reached it just now is refused, and reconnects
        self._closing.spawn(self._unload(runtime))

    async def _unload(self, runtime: ClassRuntime) -> None:
        await runtime.unload()
        if runtime.class_id not in self.runtimes:  # not loaded again meanwhile
            await self.ownership.release(runtime.class_id)
            if self.hosted is not None:
                await self.hosted.discard(runtime.class_id)
        why = "ended" if runtime.room.ended else "idle"
        self.metrics.classes_unloaded.labels(why).inc()
        log.info("class %s: unloaded (%s)", runtime.class_id, why)

    async def settled(self) -> None:
        """Wait for the unloads under way to finish."""
        await self._closing.wait()

    async def get(self, class_id: str) -> ClassRuntime | None:
        """The class's runtime on this node, loading it (and claiming it) if needed.

        Raises Moved when another node hosts the class.
        """
        if not CLASS_ID.match(class_id):
            return None
        runtime = self.runtimes.get(class_id)
        if runtime is not None and not runtime.failed:
            return runtime
        return await self._loading(class_id)

    async def _claim_and_load(self, class_id: str) -> ClassRuntime | None:
        stale = self.runtimes.pop(class_id, None)
        if stale is not None:
            await stale.close()
        if not await self.exists(class_id):
            return None
        await self.ownership.claim(class_id)
        return await self._load(class_id)

    async def exists(self, class_id: str) -> bool:
        return bool(CLASS_ID.match(class_id)) and await self.journal.last_seq(class_id) > 0

    async def unload(self, class_id: str) -> None:
        """Stop hosting a class here (its lease is gone); its sockets are disconnected."""
        runtime = self.runtimes.get(class_id)
        if runtime is not None:
            runtime.stop("its lease is lost")

    def _stopped(self, runtime: ClassRuntime) -> None:
        """A runtime stopped serving: forget it, so the next `get` rebuilds it from its journal."""
        if self.runtimes.get(runtime.class_id) is runtime:
            del self.runtimes[runtime.class_id]
        self.metrics.classes_stopped.inc()
        self._closing.spawn(runtime.close())

    async def create(self, title: str, media: e.MediaMode, class_id: str | None = None) -> str:
        """Write a new class to the journal. Whichever node is asked for it first hosts it."""
        draft = e.ClassCreated(class_id=class_id or new_class_id(), title=title, media=media)
        return await self.create_from(draft)

    async def create_from(self, draft: e.ClassCreated) -> str:
        """Write a new class from its creation event (schedule, capacity, organizer)."""
        created = e.stamp(draft, 1, now_ms())
        try:
            await self.journal.append(draft.class_id, [(1, e.encode(created))])
        except JournalConflict as exc:
            raise DomainError("conflict", f"class {draft.class_id} already exists") from exc
        return draft.class_id

    async def describe(self, class_id: str) -> dict[str, Any] | None:
        """What anyone may know of a class, from any node, without claiming it."""
        runtime = self.runtimes.get(class_id)
        if runtime is not None and not runtime.failed:
            live = runtime.room.live
            title, media, ended = live.title, live.media, live.ended
            present: int | None = len(live.present())
        else:
            first = await self._first_event(class_id)
            if not isinstance(first, e.ClassCreated):
                return None
            title, media, ended, present = first.title, first.media, False, None
        return {
            "id": class_id,
            "title": title,
            "media": media,
            "state": "ended" if ended else "live",
            "participants": present,
            "node": await self.ownership.owner(class_id),
        }

    async def _first_event(self, class_id: str) -> e.Event | None:
        if not CLASS_ID.match(class_id):
            return None
        async for _, data in self.journal.read(class_id):
            return e.decode(data)
        return None

    async def _load(self, class_id: str) -> ClassRuntime:
        """Rebuild a class from its journal."""
        history = [e.decode(data) async for _, data in self.journal.read(class_id)]
        room = Classroom.replay(history)
        runtime = self._runtime(room, class_id)
        runtime.tail.extend(history[-TAIL:])
        if self.hosted is not None:
            await self.hosted.add(class_id)
        # Nobody is connected to a class that was just loaded: close the sessions
        # that a crash or restart left open, so presence and attendance stay true.
        # Only then may sockets reach it (who asks meanwhile waits for this load):
        # one that joined before would be closed with them, left connected but absent.
        await runtime.commit(room.recover())
        self.runtimes[class_id] = runtime
        return runtime

    def _runtime(self, room: Classroom, class_id: str) -> ClassRuntime:
        runtime = ClassRuntime(
            class_id,
            room,
            self.journal,
            self.transport,
            self.media,
            fence=self.ownership.fence(class_id),
            serving=lambda: self.ownership.serving(class_id),
        )
        runtime.on_stop = self._stopped
        runtime.listener_failed = self._listener_failed
        for hook in self.on_runtime:
            hook(runtime)
        return runtime

    def _listener_failed(self, listener: Listener, ev: e.Event) -> None:
        name = getattr(listener, "__qualname__", type(listener).__name__)
        self.metrics.listener_failures.labels(name).inc()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for runtime in self.runtimes.values():
            await runtime.close()
        await self._closing.wait()
