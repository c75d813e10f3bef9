"""A disk that stalls on demand: a fault-injecting wrapper around the recorder's track writer."""

from __future__ import annotations

import threading
from pathlib import Path

from media.encoded import EncodedFrame
from recorder.capture import Writer
from recorder.mkv import TrackWriter

LONGEST_STALL_S = 60.0
"""A stall never outlives a test that forgot to end it."""


class StalledDisk:
    """Writers that block on every write while the disk is stalled, as on a hung NFS mount."""

    def __init__(self) -> None:
        self._flowing = threading.Event()
        self._flowing.set()
        self.blocked = threading.Event()
        """Set once a write has waited on the stall."""
        self.writes = 0

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def writer(self, path: Path, kind: str, mime: str) -> Writer:
        return _Stallable(TrackWriter(path, kind, mime), self)

    def wait(self) -> None:
        if not self._flowing.is_set():
            self.blocked.set()
            self._flowing.wait(LONGEST_STALL_S)
        self.writes += 1


class _Stallable:
    def __init__(self, inner: TrackWriter, disk: StalledDisk) -> None:
        self.inner, self.disk = inner, disk

    def write(self, frame: EncodedFrame) -> bool:
        self.disk.wait()
        return self.inner.write(frame)

    def pause(self) -> None:
        self.inner.pause()

    def close(self) -> None:
        self.disk.wait()
        self.inner.close()
