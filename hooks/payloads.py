"""Webhook messages: `{id, type, created_at, data}`, and the class events that make them.

A message's id is derived from what it reports (the class and the seq of
the event, say), so an event handed to the outbox twice, after a crash or by
a catch-up, is the same message, and a retry carries the id of the first
try. `ClassFeed` is a fold over one class's events, in seq order, that
yields the messages those events make; `ReplayFeed` the same over a
recording's stream.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from classroom import events as e
from classroom import replay_events as r

TYPES = (
    "class.started",
    "class.ended",
    "recording.stopped",
    "recording.published",
    "poll.closed",
    "replay.question_asked",
    "webhook.test",
)
"""Every message type. `replay.question_asked` comes from a recording's own event stream."""


class Message(msgspec.Struct, frozen=True):
    """One message as it is posted: its body is encoded once and never changes."""

    id: str
    type: str
    created_at: int
    """Epoch ms of what it reports."""
    body: bytes
    """The JSON posted: `{id, type, created_at (ISO 8601 UTC), data}`."""


class _Body(msgspec.Struct):
    id: str
    type: str
    created_at: str
    data: dict[str, Any]


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def message(msg_id: str, kind: str, created_at: int, data: dict[str, Any]) -> Message:
    if kind not in TYPES:
        raise ValueError(f"unknown webhook type {kind!r}")
    body = msgspec.json.encode(_Body(msg_id, kind, iso(created_at), data))
    return Message(msg_id, kind, created_at, body)


def test_message(now_ms: int) -> Message:
    """What `classroom webhook test` sends: a fresh id every time."""
    msg_id = f"msg_test_{secrets.token_hex(8)}"
    return message(msg_id, "webhook.test", now_ms, {"message": "a test from the classroom server"})


def recording_published(meta: dict[str, Any], now_ms: int) -> Message:
    """A replay package was built (state `published`) with the recording's current options.

    Building again with the same options is the same message; with others, a new one.
    """
    options = json.dumps(meta.get("options", {}), sort_keys=True).encode()
    recording_id = str(meta["id"])
    digest = hashlib.sha256(options).hexdigest()[:8]
    data = {
        "recording_id": recording_id,
        "class_id": meta.get("class_id"),
        "title": meta.get("title"),
        "visibility": meta.get("visibility", "private"),
    }
    return message(f"msg_rec_{recording_id}_{digest}", "recording.published", now_ms, data)


def question_asked(recording_id: str, title: str, ev: r.AsyncAsked) -> Message:
    """A learner asked a question in a recording's replay (anonymous ones name nobody)."""
    q = ev.question
    author = None if q.author_id is None else {"user_id": q.author_id, "name": q.author_name}
    question = {"id": q.id, "text": q.text, "at_ms": q.at_ms, "author": author}
    data = {"recording_id": recording_id, "title": title, "seq": ev.seq, "question": question}
    return message(f"msg_replay_{recording_id}_{ev.seq}", "replay.question_asked", ev.ts, data)


@dataclass
class ReplayFeed:
    """The messages a recording's stream makes (`replay.question_asked`), folded in seq order."""

    recording_id: str
    title: str
    seq: int = 0

    def fold(self, ev: e.Event) -> Message | None:
        self.seq = ev.seq
        if isinstance(ev, r.AsyncAsked):
            return question_asked(self.recording_id, self.title, ev)
        return None


@dataclass
class _Poll:
    question: str
    kind: str
    voters: set[str] = field(default_factory=set)


@dataclass
class ClassFeed:
    """The messages a class's events make, folded in seq order from the class's start."""

    class_id: str
    title: str = ""
    host_joined: bool = False
    seq: int = 0
    """The last event folded."""
    polls: dict[str, _Poll] = field(default_factory=dict)
    """Open polls: what their `poll.closed` will say."""

    def fold(self, ev: e.Event) -> Message | None:
        self.seq = ev.seq
        match ev:
            case e.ClassCreated():
                self.title = ev.title
            case e.ParticipantJoined() if ev.role == "host" and not self.host_joined:
                self.host_joined = True
                by = {"user_id": ev.user_id, "name": ev.name}
                return self._message(ev, "class.started", {"started_by": by})
            case e.ClassEnded():
                return self._message(ev, "class.ended", {"ended_by": ev.actor or None})
            case e.RecordingStopped():
                data = {"recording_id": ev.recording_id, "reason": ev.reason}
                return self._message(ev, "recording.stopped", data)
            case e.PollOpened():
                self.polls[ev.poll_id] = _Poll(ev.question, ev.kind)
            case e.PollVoted() if ev.poll_id in self.polls:
                self.polls[ev.poll_id].voters.add(ev.voter)
            case e.PollClosed():
                return self._poll_closed(ev)
        return None

    def _poll_closed(self, ev: e.PollClosed) -> Message:
        poll = self.polls.pop(ev.poll_id, None)
        data: dict[str, Any] = {"poll_id": ev.poll_id, "room": ev.room, "reason": ev.reason}
        if poll is not None:
            data |= {"question": poll.question, "kind": poll.kind, "voters": len(poll.voters)}
        return self._message(ev, "poll.closed", data)

    def _message(self, ev: e.Event, kind: str, data: dict[str, Any]) -> Message:
        about = {"class_id": self.class_id, "title": self.title, "seq": ev.seq}
        return message(f"msg_{self.class_id}_{ev.seq}", kind, ev.ts, about | data)
