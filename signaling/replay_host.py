"""The recordings' streams this node hosts, loaded from their journal.

Hosted as classes are (signaling/registry.py): one node at a time, under a
lease of the class registry's ownership named `replay:{recording id}` (no
class id holds a colon, so the names never meet), journaled in a journal of
their own, rebuilt from it wherever they are next asked for (without a
cluster, those hosted when the server stopped or died are rebuilt at start,
as classes are, so that their services catch up at once). What a stream
folds over (the published package's polls, title and length) and who may
watch come from the recordings' store, through `RecordingSource`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from classroom import replay_events as r
from classroom.events import Event
from classroom.replay import Recording, Replay
from journal import Journal
from journal.hosted import HostedSet
from signaling.auth import ReplayClaims
from signaling.registry import Registry
from signaling.replay_runtime import TAIL, ReplayRuntime
from signaling.tasks import OneAtATime, TaskSet, every

log = logging.getLogger(__name__)

PREFIX = "replay:"


def stream_name(recording_id: str) -> str:
    """The lease name of a recording's stream."""
    return PREFIX + recording_id


def is_stream(name: str) -> bool:
    return name.startswith(PREFIX)


class RecordingSource(Protocol):
    def recording(self, recording_id: str) -> Recording | None:
        """The published recording's facts, or None if it is not published."""

    def admits(self, claims: ReplayClaims) -> bool:
        """Whether the recording's sharing lets this replay token in now."""


class ReplayHost:
    def __init__(
        self,
        journal: Journal,
        registry: Registry,
        source: RecordingSource,
        idle_s: float = 900.0,
        hosted: HostedSet | None = None,
    ) -> None:
        self.journal = journal
        self.registry = registry
        """Whose transport and ownership the streams share with the classes."""
        self.source = source
        self.runtimes: dict[str, ReplayRuntime] = {}
        self.on_runtime: list[Callable[[ReplayRuntime], object]] = []
        """Services attached to every stream this node loads (webhooks)."""
        self.on_loaded: list[Callable[[ReplayRuntime, Sequence[Event]], object]] = []
        """Services that fold what each stream was rebuilt from as it loads (its report),
        so that they need not read and decode its journal again."""
        self._loading = OneAtATime(self._claim_and_load)
        self._closing = TaskSet()
        self.idle_s = idle_s
        """How long a stream nobody watches stays loaded (as a class does)."""
        self._sweeper: asyncio.Task[None] | None = None
        self.hosted = hosted

    async def load_hosted(self) -> int:
        """Rebuild the streams this server hosted when it stopped; returns how many."""
        for recording_id in self.hosted.load() if self.hosted is not None else []:
            try:
                await self.get(recording_id)
            except Exception:
                log.exception("recording %s: its stream could not be rebuilt", recording_id)
        return len(self.runtimes)

    def start(self) -> None:
        """Unload the streams nobody watches, from now on."""
        period = max(0.05, self.idle_s / 4)
        self._sweeper = asyncio.create_task(every(period, self._sweep, "unloading replays"))

    def _sweep(self) -> None:
        for runtime in list(self.runtimes.values()):
            if runtime.idle_for(self.idle_s):
                del self.runtimes[runtime.recording_id]
                runtime.failed = True  # a socket that reached it just now connects again
                self._closing.spawn(self._unload(runtime))

    async def _unload(self, runtime: ReplayRuntime) -> None:
        await runtime.close()
        if runtime.recording_id not in self.runtimes:  # not loaded again meanwhile
            await self.registry.ownership.release(stream_name(runtime.recording_id))
            if self.hosted is not None:
                await self.hosted.discard(runtime.recording_id)
        log.info("recording %s: its stream unloaded (idle)", runtime.recording_id)

    async def get(self, recording_id: str) -> ReplayRuntime | None:
        """The recording's stream on this node, loading (and claiming) it if needed;
        None if the recording is not published. Raises Moved when another node hosts it."""
        runtime = self.runtimes.get(recording_id)
        if runtime is not None and not runtime.failed:
            return runtime
        return await self._loading(recording_id)

    async def _claim_and_load(self, recording_id: str) -> ReplayRuntime | None:
        stale = self.runtimes.pop(recording_id, None)
        if stale is not None:
            await stale.close()
        recording = self.source.recording(recording_id)
        if recording is None:
            if self.hosted is not None:
                await self.hosted.discard(recording_id)  # unpublished since
            return None
        ownership = self.registry.ownership
        name = stream_name(recording_id)
        await ownership.claim(name)
        records = [data async for _, data in self.journal.read(recording_id)]
        # Off the event loop: a busy stream is tens of thousands of events to decode and
        # fold, and the loop serves every class of this node meanwhile.
        history, stream = await asyncio.to_thread(_rebuild, recording, records)
        runtime = ReplayRuntime(
            recording_id,
            stream,
            self.journal,
            self.registry.transport,
            fence=ownership.fence(name),
            serving=lambda: ownership.serving(name),
        )
        runtime.tail.extend(history[-TAIL:])
        runtime.on_stop = self._stopped
        for hook in self.on_runtime:
            hook(runtime)
        for fold in self.on_loaded:
            fold(runtime, history)
        self.runtimes[recording_id] = runtime
        if self.hosted is not None:
            await self.hosted.add(recording_id)
        return runtime

    async def unload(self, name: str) -> None:
        """Stop hosting a stream here (its lease is gone); its sockets are disconnected."""
        runtime = self.runtimes.get(name.removeprefix(PREFIX))
        if runtime is not None:
            runtime.stop("its lease is lost")

    def _stopped(self, runtime: ReplayRuntime) -> None:
        if self.runtimes.get(runtime.recording_id) is runtime:
            del self.runtimes[runtime.recording_id]
        self._closing.spawn(runtime.close())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for runtime in self.runtimes.values():
            await runtime.close()
        await self._closing.wait()


def _rebuild(recording: Recording, records: list[bytes]) -> tuple[list[r.AnyReplayEvent], Replay]:
    history = [r.decode(data) for data in records]
    return history, Replay.replay(recording, history)
