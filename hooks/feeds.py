"""Following each class and each recording's stream for the outbox: a listener, off the
acknowledgement path, and a catch-up.

A stream's listener only queues the event; a task of the stream's own folds
it and appends the messages it makes to the outbox. When a class or a
recording's stream is loaded (started, rebuilt after a restart, taken over
from another node) its task first folds the journal from the start: messages
of events that a crash or a shutdown kept from the outbox are appended then,
if they are recent (`CATCH_UP_MS`) and not there already. The journal is the
source: a queue that overflows is dropped and the journal read again from
where the fold stands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from classroom import events as e
from classroom import replay_events as r
from classroom.heard import Heard
from hooks.outbox import Outbox
from hooks.payloads import ClassFeed, Message, ReplayFeed
from hooks.records import Enqueued
from journal import Journal
from signaling.replay_runtime import ReplayRuntime
from signaling.runtime import ClassRuntime

log = logging.getLogger(__name__)

CATCH_UP_MS = 24 * 3600 * 1000
"""Events older than this are not sent when found missing from the outbox."""
MAX_QUEUED = 1000
"""Events a class's task may lag behind its listener before it reads the journal instead."""
RETRY_S = (0.5, 1, 2, 5, 10, 30)


class Fold(Protocol):
    """The messages a stream's events make, folded in seq order from its start."""

    seq: int

    def fold(self, ev: Any) -> Message | None: ...


class Followed(Protocol):
    """A loaded stream (a class, a recording's) that a follower hears and keeps loaded."""

    def listen(self, listener: Callable[[Any], Awaitable[None]]) -> object: ...

    def keep_loaded_while(self, busy: Callable[[], bool]) -> None: ...

    def on_close(self, closer: Callable[[], None]) -> None: ...


class Follower:
    """One stream's feed: its fold, its queue of heard events, and the task that drains them."""

    def __init__(
        self,
        name: str,
        fold: Fold,
        journal: Journal,
        decode: Callable[[bytes], e.Event],
        feeds: Feeds,
    ) -> None:
        self.name = name
        self.fold = fold
        self.journal = journal
        self.decode = decode
        self.feeds = feeds
        self._heard = Heard(MAX_QUEUED, reread=True)
        """Read the journal from where the fold stands at first, and after a gap."""
        self._unsent: list[Message] = []
        self._wake = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def heard(self, ev: e.Event) -> None:
        self._heard.hear(ev)
        self._wake.set()

    async def _run(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            try:
                if self._heard.reread:
                    await self._read_journal()
                elif self._heard:
                    self._unsent += self._fold_heard()
                elif not self._unsent:
                    await self._wake.wait()
                    continue
                await self._send()
                failures = 0
            except Exception as exc:  # the journal or the outbox is down: try again later
                log.warning("webhooks: %s: cannot enqueue yet: %s", self.name, exc)
                await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
                failures += 1

    async def _read_journal(self) -> None:
        async for _seq, data in self.journal.read(self.name, self.fold.seq):
            made = self.fold.fold(self.decode(data))
            if made is not None and made.created_at >= self.feeds.clock() - CATCH_UP_MS:
                self._unsent.append(made)
        self._heard.reread = False  # only once the read went through
        if self._unsent and self.feeds.outbox_shared:
            await self.feeds.outbox.sync()  # what other nodes enqueued for this stream

    def _fold_heard(self) -> list[Message]:
        made = (self.fold.fold(ev) for ev in self._heard.following(self.fold.seq))
        return [msg for msg in made if msg is not None]

    async def _send(self) -> None:
        new = [m for m in self._unsent if not self.feeds.outbox.known(m.id)]
        if new:
            await self.feeds.outbox.append([Enqueued(m, self.feeds.endpoint_ids) for m in new])
        self._unsent = []

    def behind(self) -> bool:
        """Whether events heard are not in the outbox yet."""
        return self._heard.reread or bool(self._heard) or bool(self._unsent)

    def close(self) -> None:
        self.task.cancel()


class Feeds:
    def __init__(
        self,
        journal: Journal,
        outbox: Outbox,
        endpoint_ids: list[str],
        clock: Callable[[], int],
        outbox_shared: bool,
    ) -> None:
        self.journal = journal
        self.outbox = outbox
        self.endpoint_ids = endpoint_ids
        self.clock = clock
        self.outbox_shared = outbox_shared
        self.followers: dict[tuple[str, str], Follower] = {}
        """By ("class" | "replay", id)."""

    def attach(self, runtime: ClassRuntime) -> None:
        """A registry hook: follow every class this node hosts."""
        fold = ClassFeed(runtime.class_id)
        key = ("class", runtime.class_id)
        self._follow(runtime, key, runtime.class_id, fold, self.journal, e.decode)

    def attach_replay(self, runtime: ReplayRuntime, journal: Journal) -> None:
        """A replay host's hook: follow every recording's stream this node hosts."""
        rec = runtime.stream.recording
        fold = ReplayFeed(rec.recording_id, rec.title)
        key = ("replay", runtime.recording_id)  # a recording and a class may share an id
        self._follow(runtime, key, runtime.recording_id, fold, journal, r.decode)

    def _follow(
        self,
        runtime: Followed,
        key: tuple[str, str],
        name: str,
        fold: Fold,
        journal: Journal,
        decode: Callable[[bytes], e.Event],
    ) -> None:
        follower = Follower(name, fold, journal, decode, self)
        self.followers[key] = follower
        runtime.listen(follower.heard)
        runtime.keep_loaded_while(follower.behind)

        def closed() -> None:
            follower.close()
            if self.followers.get(key) is follower:
                del self.followers[key]

        runtime.on_close(closed)

    async def close(self) -> None:
        tasks = [f.task for f in self.followers.values()]
        for follower in list(self.followers.values()):
            follower.close()
        await asyncio.gather(*tasks, return_exceptions=True)
