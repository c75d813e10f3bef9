"""xAPI 1.0.3 statements of a recording's replay, in the xAPI Video profile's vocabulary.

The profile is https://w3id.org/xapi/video. For each viewer: `initialized`
for each visit, one `played` statement as of their last report with the
played segments (the union of what they watched) and their progress, and
`completed` once they have watched nearly all of it. Each ballot of the
async cohort is `answered` on the poll's own activity, the one the live
class's statements use (`xapi.poll_activity_id`), so an LRS sees live and
replay answers to one question together; ballots of anonymous polls are
left out (the statement would name the voter), as in the live class.

Identifiers are derived (UUIDv5 of the replay's IRI and what a statement
records), so a re-export gives the same statements.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from classroom import events as e
from classroom import replay_events as r
from classroom.replay import Replay, Viewer
from classroom.xapi import ANSWERED, INITIALIZED, Json, iso, poll_activity, response, verb

VIDEO = "https://w3id.org/xapi/video"
VIDEO_TYPE = f"{VIDEO}/activity-type/video"
PLAYED = verb(f"{VIDEO}/verbs/played", "played")
COMPLETED = verb("http://adlnet.gov/expapi/verbs/completed", "completed")
SEGMENTS = f"{VIDEO}/extensions/played-segments"
PROGRESS = f"{VIDEO}/extensions/progress"
TIME = f"{VIDEO}/extensions/time"
LENGTH = f"{VIDEO}/extensions/length"
SESSION = f"{VIDEO}/extensions/session-id"
CATEGORY = [{"id": VIDEO, "definition": {"type": "http://adlnet.gov/expapi/activities/profile"}}]
COMPLETE_AT = 0.95
"""The share watched from which a viewing is completed."""
VERSION = "1.0.3"


def replay_activity_id(base_url: str, recording_id: str) -> str:
    return f"{base_url.rstrip('/')}/replay/{recording_id}"


class _Statements:
    def __init__(self, stream: Replay, base_url: str) -> None:
        self.stream = stream
        self.base = base_url.rstrip("/")
        rec = stream.recording
        self.iri = replay_activity_id(self.base, rec.recording_id)
        self.video: Json = {
            "objectType": "Activity",
            "id": self.iri,
            "definition": {"type": VIDEO_TYPE, "name": {"en-US": rec.title}},
        }
        self.registration = str(uuid.uuid5(uuid.NAMESPACE_URL, self.iri))

    def make(
        self, key: str, ts: int, viewer: Viewer, verb: Json, obj: Json, result: Json | None = None
    ) -> Json:
        length = round(self.stream.duration_ms / 1000, 3)
        stmt: Json = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.iri}/statements/{key}")),
            "actor": {
                "objectType": "Agent",
                "account": {"homePage": self.base, "name": viewer.user_id},
                "name": viewer.name,
            },
            "verb": verb,
            "object": obj,
            "context": {
                "registration": self.registration,
                "contextActivities": {"category": CATEGORY},
                "extensions": {LENGTH: length, SESSION: self.registration},
            },
            "timestamp": iso(ts),
            "version": VERSION,
        }
        if result is not None:
            stmt["result"] = result
        return stmt

    def viewing(self, viewer: Viewer) -> list[Json]:
        if not viewer.watched:
            return []
        duration = max(1, self.stream.duration_ms)
        watched = sum(b - a for a, b in viewer.watched)
        progress = round(min(1.0, watched / duration), 3)
        segments = "[,]".join(f"{a / 1000:.3f}[.]{b / 1000:.3f}" for a, b in viewer.watched)
        ext = {SEGMENTS: segments, PROGRESS: progress, TIME: round(viewer.position_ms / 1000, 3)}
        key, ts = f"played/{viewer.user_id}", viewer.last_seen
        out = [self.make(key, ts, viewer, PLAYED, self.video, {"extensions": ext})]
        if progress >= COMPLETE_AT:
            done = {"completion": True, "extensions": ext}
            out.append(
                self.make(f"completed/{viewer.user_id}", ts, viewer, COMPLETED, self.video, done)
            )
        return out

    def answers(self, viewer: Viewer) -> list[Json]:
        out = []
        class_id = self.stream.recording.class_id
        for poll in self.stream.polls.values():
            ballot = poll.ballots.get(viewer.user_id)
            if ballot is None or poll.anonymous:
                continue
            result: Json = {"response": response(ballot.answer)}
            if poll.quiz:
                result["success"] = poll.is_correct(ballot.answer)
            obj = poll_activity(self.base, class_id, poll)
            stmt = self.make(
                f"answer/{poll.id}/{viewer.user_id}", ballot.ts, viewer, ANSWERED, obj, result
            )
            stmt["context"]["contextActivities"]["parent"] = [self.video]
            out.append(stmt)
        return out


def replay_statements(stream: Replay, history: Iterable[e.Event], base_url: str) -> list[Json]:
    """Every statement of the stream's viewers, in time order."""
    made = _Statements(stream, base_url)
    out: list[Json] = []
    for ev in history:
        if isinstance(ev, r.ViewerVisited):
            viewer = stream.viewers[ev.user_id]
            key = f"initialized/{ev.user_id}/{ev.seq}"
            out.append(made.make(key, ev.ts, viewer, INITIALIZED, made.video))
    for viewer in stream.viewers.values():
        out += made.viewing(viewer) + made.answers(viewer)
    return sorted(out, key=lambda stmt: stmt["timestamp"])
