"""The media of one recording: a Matroska writer per captured track.

The recorder reads the same encoded frames the SFU forwards to subscribers
(a sink on each track's feed); it never decodes them. A frame that cannot be
written is logged and dropped: recording must never disturb the class.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from media.encoded import EncodedFrame
from recorder.mkv import CODECS, TrackWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackInfo:
    track_id: str
    user_id: str
    kind: str
    source: str
    mime: str


FirstFrame = Callable[[TrackInfo, str, int], None]
"""Called with the track, its file name and the wall-clock ms of its first frame."""


class Capture:
    def __init__(self, folder: Path, on_first_frame: FirstFrame) -> None:
        self.folder = folder
        self.on_first_frame = on_first_frame
        self.writers: dict[str, tuple[TrackInfo, TrackWriter]] = {}
        self.paused = False
        self._files = 0

    def add(self, info: TrackInfo) -> Callable[[EncodedFrame], None] | None:
        """Start capturing a track; returns the sink to feed its frames to."""
        if info.track_id in self.writers or info.mime.lower() not in CODECS:
            return None
        self._files += 1
        name = f"track-{self._files:02d}-{info.kind}.mkv"
        writer = TrackWriter(self.folder / name, info.kind, info.mime)
        self.writers[info.track_id] = (info, writer)

        def sink(frame: EncodedFrame) -> None:
            self._write(info, writer, name, frame)

        return sink

    def _write(self, info: TrackInfo, writer: TrackWriter, name: str, frame: EncodedFrame) -> None:
        if self.paused:
            return
        try:
            first = writer.write(frame)
        except Exception:
            log.exception("recording %s: dropped a frame of %s", self.folder.name, name)
            return
        if first:
            self.on_first_frame(info, name, int(time.time() * 1000))

    def remove(self, track_id: str) -> None:
        found = self.writers.pop(track_id, None)
        if found is not None:
            found[1].close()

    def pause(self) -> None:
        self.paused = True
        for _, writer in self.writers.values():
            writer.pause()

    def resume(self) -> None:
        self.paused = False

    def close(self) -> None:
        for track_id in list(self.writers):
            self.remove(track_id)
