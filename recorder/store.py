"""Where recordings live on disk: one folder per recording, addressed by its opaque id.

    recordings/<id>/recording.json   what it is and how far publishing got
    recordings/<id>/media/*.mkv      captured tracks (Matroska, readable after a crash)
    recordings/<id>/stages/*.done    markers of finished publish stages
    recordings/<id>/work/            scratch space of the stage that runs now
    recordings/<id>/package/         the published replay package (appears atomically)

Only ids that match RECORDING_ID ever become paths.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

RECORDING_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\.(json|vtt|mkv|webm)$")


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old or the new content, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RecordingStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, recording_id: str) -> Path:
        if not RECORDING_ID.match(recording_id):
            raise KeyError(recording_id)
        return self.root / recording_id

    def media_dir(self, recording_id: str) -> Path:
        return self.folder(recording_id) / "media"

    def package_dir(self, recording_id: str) -> Path:
        return self.folder(recording_id) / "package"

    def create(self, recording_id: str, meta: dict[str, Any]) -> None:
        folder = self.folder(recording_id)
        (folder / "media").mkdir(parents=True, exist_ok=True)
        if not (folder / "recording.json").exists():
            self.save(recording_id, meta)

    def exists(self, recording_id: str) -> bool:
        try:
            return (self.folder(recording_id) / "recording.json").exists()
        except KeyError:
            return False

    def load(self, recording_id: str) -> dict[str, Any] | None:
        try:
            raw = (self.folder(recording_id) / "recording.json").read_bytes()
        except (KeyError, FileNotFoundError):
            return None
        meta: dict[str, Any] = json.loads(raw)
        return meta

    def save(self, recording_id: str, meta: dict[str, Any]) -> None:
        data = json.dumps(meta, indent=1, sort_keys=True).encode()
        write_atomically(self.folder(recording_id) / "recording.json", data)

    def update(self, recording_id: str, **changes: Any) -> dict[str, Any]:
        meta = self.load(recording_id) or {"id": recording_id}
        meta.update(changes)
        self.save(recording_id, meta)
        return meta

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
