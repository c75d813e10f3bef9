"""The recorder of one node: follows each class's recording events, captures media, publishes.

It reads a class's media like any subscriber does (a sink on each feed of
the class's SFU) and its timeline from the journal, nothing else. It runs in
the class's event listeners, so it does no disk I/O there: captures write on
their own threads, the store on its own (`RecordingStore.later`), and what
waits for them (closing a capture, then publishing) runs in a task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from classroom import events as e
from recorder.capture import MAX_PENDING_BYTES, Capture, Note, OpenWriter, TrackInfo
from recorder.mkv import TrackWriter
from recorder.publish import Publisher
from recorder.store import RecordingStore
from signaling.runtime import ClassRuntime
from signaling.tasks import TaskSet

if TYPE_CHECKING:
    from media.encoded import EncodedFrame
    from media.node import MediaNode
    from media.tracks import Feed

    Sink = Callable[[EncodedFrame], None]

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 30.0
"""How long shutting down waits for captures and store writes behind a stalled disk."""


class Recorder:
    def __init__(self, store: RecordingStore, publisher: Publisher) -> None:
        self.store = store
        self.publisher = publisher
        self.media: MediaNode | None = None
        self.captures: dict[str, tuple[str, Capture]] = {}
        """class id -> (recording id, its capture)."""
        self._hooks: dict[str, list[tuple[Feed, Sink]]] = {}
        """class id -> the feed sinks its capture installed."""
        self.open_writer: OpenWriter = TrackWriter
        self.max_pending_bytes = MAX_PENDING_BYTES
        self._stopping = TaskSet()

    def attach(self, runtime: ClassRuntime) -> None:
        """Follow a class (a registry hook: called for every runtime this node creates)."""

        async def on_event(ev: e.Event) -> None:
            try:
                self.on_event(runtime, ev)
            except Exception:
                log.exception("recorder: class %s, event %s", runtime.class_id, ev.seq)

        runtime.listen(on_event)

    def on_event(self, runtime: ClassRuntime, ev: e.Event) -> None:
        match ev:
            case e.RecordingStarted():
                self._start(runtime, ev)
            case e.RecordingPaused():
                self._each(runtime, ev.recording_id, Capture.pause)
            case e.RecordingResumed():
                self._each(runtime, ev.recording_id, Capture.resume)
                self._ask_keyframes(runtime)
            case e.RecordingStopped():
                self._stop(runtime, ev)
            case e.TrackPublished():
                self._follow(runtime)
            case e.TrackUnpublished():
                self._each(runtime, None, lambda c: c.remove(ev.track_id))

    def _start(self, runtime: ClassRuntime, ev: e.RecordingStarted) -> None:
        meta = {
            "id": ev.recording_id,
            "class_id": runtime.class_id,
            "title": runtime.room.live.title,
            "started_at": ev.ts,
            "state": "recording",
            "stage": None,
            "percent": 0,
            "error": None,
            "options": {},
        }
        self.store.create_later(ev.recording_id, meta)

        def first_frame(info: TrackInfo, name: str, at_ms: int) -> None:
            note = e.CaptureFileStarted(
                recording_id=ev.recording_id,
                track_id=info.track_id,
                user_id=info.user_id,
                kind=info.kind,
                source=info.source,
                file=name,
                at_ms=at_ms,
            )
            runtime.spawn_commit([note])

        def note(found: Note) -> None:
            self.store.later(self.store.add_note, ev.recording_id, found)

        capture = Capture(
            self.store.media_dir(ev.recording_id),
            first_frame,
            note,
            self.open_writer,
            self.max_pending_bytes,
        )
        self.captures[runtime.class_id] = (ev.recording_id, capture)
        self._follow(runtime)

    def _stop(self, runtime: ClassRuntime, ev: e.RecordingStopped) -> None:
        found = self.captures.pop(runtime.class_id, None)
        for feed, sink in self._hooks.pop(runtime.class_id, []):
            if sink in feed.sinks:
                feed.sinks.remove(sink)
        self._stopping.spawn(self._finish(ev, found[1] if found else None))

    async def _finish(self, ev: e.RecordingStopped, capture: Capture | None) -> None:
        """Once the media is on disk: mark the recording stopped and publish it."""
        if capture is not None:
            await capture.close()
        if await self.store.later(self._stopped, ev.recording_id, ev.ts):
            await self.publisher.start(ev.recording_id)

    def _stopped(self, recording_id: str, at_ms: int) -> bool:
        if not self.store.exists(recording_id):
            return False  # recorded on a node whose data this one cannot see
        self.store.update(recording_id, state="stopped", stopped_at=at_ms)
        return True

    def _feeds(self, runtime: ClassRuntime) -> dict[str, Feed]:
        if self.media is None or runtime.room.live.media != "sfu":
            return {}
        return self.media.sfu(runtime).feeds

    def _follow(self, runtime: ClassRuntime) -> None:
        """Capture every published track of the class that is not captured yet."""
        found = self.captures.get(runtime.class_id)
        if found is None:
            return
        capture = found[1]
        for track_id, feed in self._feeds(runtime).items():
            if not track_id or not feed.mime:
                continue
            info = TrackInfo(track_id, feed.user_id, feed.kind, feed.source, feed.mime)
            sink = capture.add(info, feed.want_keyframe)
            if sink is not None:
                feed.sinks.append(sink)
                self._hooks.setdefault(runtime.class_id, []).append((feed, sink))
                feed.want_keyframe()

    def _ask_keyframes(self, runtime: ClassRuntime) -> None:
        for feed in self._feeds(runtime).values():
            feed.want_keyframe()

    def _each(self, runtime: ClassRuntime, recording_id: str | None, do: Any) -> None:
        found = self.captures.get(runtime.class_id)
        if found is not None and recording_id in (None, found[0]):
            do(found[1])

    async def resume_unfinished(self) -> None:
        """Publish what a crash or restart interrupted (stopped, not yet published)."""
        for recording_id in self.store.ids():
            meta = self.store.load(recording_id) or {}
            if meta.get("state") in ("stopped", "publishing"):
                await self.publisher.start(recording_id)

    async def close(self) -> None:
        closing = [capture.close() for _, capture in self.captures.values()]
        self.captures.clear()
        pending = asyncio.gather(*closing, *self._stopping, return_exceptions=True)
        try:
            await asyncio.wait_for(pending, CLOSE_TIMEOUT_S)
            await asyncio.wait_for(self.store.close(), CLOSE_TIMEOUT_S)
        except TimeoutError:
            log.error("recorder: the disk did not take the last media in %.0f s", CLOSE_TIMEOUT_S)
        await self.publisher.close()
