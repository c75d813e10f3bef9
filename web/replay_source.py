"""What a recording's stream folds over, and who may join it, from the recordings' store."""

from __future__ import annotations

import json

import msgspec

from classroom.replay import Recording, decode_polls
from classroom.sharing import access_for, permits
from recorder.store import RECORDING_ID, RecordingStore
from signaling.auth import ReplayClaims


class StoredRecordings:
    """`signaling.replay_host.RecordingSource` over the published packages on disk."""

    def __init__(self, store: RecordingStore) -> None:
        self.store = store

    def recording(self, recording_id: str) -> Recording | None:
        meta = self.store.load(recording_id) if RECORDING_ID.match(recording_id) else None
        found = self.store.published_file(recording_id, "manifest.json")
        if meta is None or meta.get("state") != "published" or found is None:
            return None
        manifest = json.loads(found.read_bytes())
        try:
            polls = decode_polls(self.store.replay_polls(recording_id).read_bytes())
        except (FileNotFoundError, msgspec.DecodeError):
            polls = []  # a package built before recordings kept their polls
        title, duration = str(manifest.get("title") or ""), int(manifest.get("duration_ms") or 0)
        return Recording(recording_id, str(meta.get("class_id") or ""), title, duration, polls)

    def admits(self, claims: ReplayClaims) -> bool:
        meta = self.store.load(claims.recording_id)
        access = access_for(claims.role, claims.expires, claims.link, claims.guest)
        return meta is not None and permits(meta, access)
