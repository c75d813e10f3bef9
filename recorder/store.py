"""Where recordings live on disk: one folder per recording, addressed by its opaque id.

    recordings/<id>/recording.json   what it is and how far publishing got
    recordings/<id>/media/*.mkv      captured tracks (Matroska, readable after a crash)
    recordings/<id>/stages/*.done    markers of finished publish stages
    recordings/<id>/work/            scratch space of the stage that runs now
    recordings/<id>/package/         the published replay package (appears atomically)

Only ids that match RECORDING_ID ever become paths.

Writes of `recording.json` fsync. The recorder makes them from the event
loop's side (a recording starts, stops, or gets a note) through `later`:
they run in order on the store's own thread, so a slow disk delays the file,
never the loop. A recording whose creation is still queued already exists
for `exists` and `load`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from journal.atomic import write_atomically

log = logging.getLogger(__name__)
T = TypeVar("T")

RECORDING_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\.(json|vtt|mkv|webm|webp|mp4)$")


class RecordingStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._creating: dict[str, dict[str, Any]] = {}
        """Recordings whose `create_later` has not reached the disk yet."""
        self._locks: dict[str, threading.Lock] = {}
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording-store")

    def later(self, write: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Run a store call on the store's thread, after every one submitted before it."""
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(self._writes, partial(write, *args, **kwargs))
        done.add_done_callback(_log_failure)
        return done

    def create_later(self, recording_id: str, meta: dict[str, Any]) -> asyncio.Future[None]:
        self.folder(recording_id)  # refuse a bad id now, not on the thread
        self._creating[recording_id] = dict(meta)
        return self.later(self._create_queued, recording_id)

    def _create_queued(self, recording_id: str) -> None:
        try:
            self.create(recording_id, self._creating[recording_id])
        finally:
            del self._creating[recording_id]

    async def close(self) -> None:
        """Let queued writes finish."""
        await asyncio.to_thread(self._writes.shutdown, wait=True)

    def folder(self, recording_id: str) -> Path:
        if not RECORDING_ID.match(recording_id):
            raise KeyError(recording_id)
        return self.root / recording_id

    def media_dir(self, recording_id: str) -> Path:
        return self.folder(recording_id) / "media"

    def package_dir(self, recording_id: str) -> Path:
        return self.folder(recording_id) / "package"

    def replay_polls(self, recording_id: str) -> Path:
        """The recorded polls the replay's stream folds over (never served as a file)."""
        return self.folder(recording_id) / "replay-polls.json"

    def create(self, recording_id: str, meta: dict[str, Any]) -> None:
        folder = self.folder(recording_id)
        (folder / "media").mkdir(parents=True, exist_ok=True)
        if not (folder / "recording.json").exists():
            self.save(recording_id, meta)

    def exists(self, recording_id: str) -> bool:
        if recording_id in self._creating:
            return True
        try:
            return (self.folder(recording_id) / "recording.json").exists()
        except KeyError:
            return False

    def load(self, recording_id: str) -> dict[str, Any] | None:
        try:
            raw = (self.folder(recording_id) / "recording.json").read_bytes()
        except (KeyError, FileNotFoundError):
            queued = self._creating.get(recording_id)
            return None if queued is None else dict(queued)
        meta: dict[str, Any] = json.loads(raw)
        return meta

    def save(self, recording_id: str, meta: dict[str, Any]) -> None:
        data = json.dumps(meta, indent=1, sort_keys=True).encode()
        write_atomically(self.folder(recording_id) / "recording.json", data)

    def update(self, recording_id: str, **changes: Any) -> dict[str, Any]:
        return self._change(recording_id, lambda meta: meta.update(changes))

    def add_note(self, recording_id: str, note: dict[str, Any]) -> None:
        """Something a viewer of the recording should know (frames the disk could not take)."""
        self._change(recording_id, lambda meta: meta.update(notes=[*meta.get("notes", []), note]))

    def _change(
        self, recording_id: str, change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        with self._lock(recording_id):
            meta = self.load(recording_id) or {"id": recording_id}
            change(meta)
            self.save(recording_id, meta)
            return meta

    def _lock(self, recording_id: str) -> threading.Lock:
        """Read-modify-write of one recording.json, from the loop and threads alike."""
        return self._locks.setdefault(recording_id, threading.Lock())

    def ids(self) -> list[str]:
        if not self.root.exists():
            return []
        found = [p.name for p in self.root.iterdir() if RECORDING_ID.match(p.name)]
        return sorted(r for r in found if self.exists(r))

    def published_file(self, recording_id: str, name: str) -> Path | None:
        """A file of the published package, if the name is one a package may hold."""
        if not FILE_NAME.match(name):
            return None
        path = self.package_dir(recording_id) / name
        return path if path.is_file() else None

    def delete(self, recording_id: str) -> bool:
        folder = self.folder(recording_id)
        if not folder.exists():
            return False
        # Rename first so a half-deleted folder never looks like a recording.
        doomed = folder.with_name(f".deleted-{recording_id}")
        os.replace(folder, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        return True


def _log_failure(done: asyncio.Future[Any]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.error("a recording store write failed", exc_info=done.exception())
