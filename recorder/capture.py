"""The media of one recording: a Matroska writer per captured track, fed off the event loop.

The recorder reads the same encoded frames the SFU forwards to subscribers
(a sink on each track's feed); it never decodes them. A sink only queues the
frame: the recording's writer thread muxes it, so a slow disk never holds up
the event loop that serves every class on the node.

The queue is bounded in bytes. When the writer falls behind and the queue is
full, a track drops its frames until the queue has drained to half and, for
video, until the next keyframe (asked for from the publisher at once), so
what is written always decodes. Each such gap becomes a note of the
recording: which track, from when to when (wall-clock ms), how many frames.
A frame that cannot be written is logged and dropped: recording must never
disturb the class.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from media.encoded import EncodedFrame
from recorder.mkv import CODECS, TrackWriter

log = logging.getLogger(__name__)

MAX_PENDING_BYTES = 8 * 2**20
"""Frames queued for the writer, per recording: about a minute of one 1 Mbit/s camera."""


@dataclass(frozen=True)
class TrackInfo:
    track_id: str
    user_id: str
    kind: str
    source: str
    mime: str


class Writer(Protocol):
    """What the writer thread drives: `recorder.mkv.TrackWriter`, or a wrapper around it."""

    def write(self, frame: EncodedFrame) -> bool: ...
    def pause(self) -> None: ...
    def close(self) -> None: ...


OpenWriter = Callable[[Path, str, str], Writer]
"""Makes the writer of a track from its file path, kind and MIME type."""
FirstFrame = Callable[[TrackInfo, str, int], None]
"""Called with the track, its file name and the wall-clock ms of its first frame."""
Note = dict[str, Any]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Gap:
    """Frames of a track dropped in a row because the writer was behind."""

    from_ms: int
    frames: int = 0


@dataclass(eq=False)
class Track:
    info: TrackInfo
    file: str
    writer: Writer
    want_keyframe: Callable[[], None]
    gap: Gap | None = None


_PAUSE, _CLOSE = "pause", "close"
Item = tuple[Track, EncodedFrame | str, int]
"""A frame (with the wall-clock ms it arrived) or an order, for the writer thread."""


class Capture:
    """The tracks of one recording and the thread that writes them, in arrival order."""

    def __init__(
        self,
        folder: Path,
        on_first_frame: FirstFrame,
        on_note: Callable[[Note], None] = lambda _: None,
        open_writer: OpenWriter = TrackWriter,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        self.folder = folder
        self.on_first_frame = on_first_frame
        self.on_note = on_note
        self.open_writer = open_writer
        self.max_pending_bytes = max_pending_bytes
        self.tracks: dict[str, Track] = {}
        self.notes: list[Note] = []
        self.dropped = 0
        """Frames dropped so far because the writer was behind."""
        self.paused = False
        self._files = 0
        self._closed = False
        self._loop = asyncio.get_running_loop()
        self._done: asyncio.Future[None] = self._loop.create_future()
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._pending = 0
        """Bytes queued and not written yet; the loop adds, the writer thread subtracts."""
        self._pending_lock = threading.Lock()
        name = f"capture-{folder.parent.name}"
        threading.Thread(target=self._run, name=name, daemon=True).start()

    @property
    def backlog(self) -> int:
        """Bytes of frames queued for the writer and not written yet."""
        with self._pending_lock:
            return self._pending

    # -- on the event loop -----------------------------------------------------

    def add(
        self, info: TrackInfo, want_keyframe: Callable[[], None] = lambda: None
    ) -> Callable[[EncodedFrame], None] | None:
        """Start capturing a track; returns the sink to feed its frames to."""
        if self._closed or info.track_id in self.tracks or info.mime.lower() not in CODECS:
            return None
        self._files += 1
        name = f"track-{self._files:02d}-{info.kind}.mkv"
        writer = self.open_writer(self.folder / name, info.kind, info.mime)
        track = Track(info, name, writer, want_keyframe)
        self.tracks[info.track_id] = track

        def sink(frame: EncodedFrame) -> None:
            self._offer(track, frame)

        return sink

    def _offer(self, track: Track, frame: EncodedFrame) -> None:
        if self.paused or self._closed or self.tracks.get(track.info.track_id) is not track:
            return  # paused, or the track was removed (its file is closed)
        size, pending = len(frame.data), self.backlog
        if track.gap is not None:
            caught_up = pending <= self.max_pending_bytes // 2
            if not caught_up or (track.info.kind == "video" and not frame.keyframe):
                if caught_up:
                    track.want_keyframe()  # the publisher's next keyframe ends the gap
                self._drop(track)
                return
            self._end_gap(track)
        elif pending + size > self.max_pending_bytes:
            track.gap = Gap(now_ms())
            log.warning("recording %s: %s is behind, dropping", self.folder.parent.name, track.file)
            self._drop(track)
            return
        with self._pending_lock:
            self._pending += size
        self._queue.put((track, frame, now_ms()))

    def _drop(self, track: Track) -> None:
        assert track.gap is not None
        track.gap.frames += 1
        self.dropped += 1

    def _end_gap(self, track: Track) -> None:
        gap, track.gap = track.gap, None
        if gap is None:
            return
        note = {
            "what": "frames dropped: the disk was too slow",
            "track_id": track.info.track_id,
            "file": track.file,
            "kind": track.info.kind,
            "from_ms": gap.from_ms,
            "to_ms": now_ms(),
            "frames": gap.frames,
        }
        self.notes.append(note)
        self.on_note(note)

    def remove(self, track_id: str) -> None:
        track = self.tracks.pop(track_id, None)
        if track is not None:
            self._end_gap(track)
            self._queue.put((track, _CLOSE, 0))

    def pause(self) -> None:
        self.paused = True
        for track in self.tracks.values():
            self._queue.put((track, _PAUSE, 0))

    def resume(self) -> None:
        self.paused = False

    async def close(self) -> None:
        """Stop taking frames; returns once every queued frame is written and files are closed."""
        if not self._closed:
            for track_id in list(self.tracks):
                self.remove(track_id)
            self._closed = True
            self._queue.put(None)
        await asyncio.shield(self._done)

    # -- on the writer thread --------------------------------------------------

    def _run(self) -> None:
        opened: set[Track] = set()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            while (item := self._queue.get()) is not None:
                track, what, at_ms = item
                if isinstance(what, EncodedFrame):
                    opened.add(track)
                    self._write(track, what, at_ms)
                elif what == _PAUSE:
                    track.writer.pause()
                elif track in opened:
                    opened.discard(track)
                    self._close(track)
        except Exception:
            log.exception("recording %s: the capture stopped", self.folder.parent.name)
        finally:
            for track in opened:
                self._close(track)
            self._call_soon(self._finished)

    def _write(self, track: Track, frame: EncodedFrame, at_ms: int) -> None:
        try:
            first = track.writer.write(frame)
        except Exception:
            log.exception("recording %s: a frame of %s lost", self.folder.parent.name, track.file)
            return
        finally:
            with self._pending_lock:
                self._pending -= len(frame.data)
        if first:
            self._call_soon(self.on_first_frame, track.info, track.file, at_ms)

    def _close(self, track: Track) -> None:
        try:
            track.writer.close()
        except Exception:
            log.exception("recording %s: could not close %s", self.folder.parent.name, track.file)

    def _call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: the server is gone
            self._loop.call_soon_threadsafe(callback, *args)

    def _finished(self) -> None:
        if not self._done.done():
            self._done.set_result(None)
