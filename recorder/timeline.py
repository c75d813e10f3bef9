"""From a class journal to a replay timeline: what learners may see, when.

Pure functions. The recording's clock runs from `recording.started` and stops
while paused, so `t` (ms) of an event is its wall-clock time minus the start
and minus every pause before it. Events are those a learner in the class
could have seen (room chat of every room included, direct messages and
staff-only events not), as they were broadcast; poll tallies and question
votes, which live clients get coalesced, appear at most once a second each.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from classroom import events as e
from classroom.aggregate import Classroom
from classroom.polls_wire import live_results
from classroom.qa_wire import votes_view
from classroom.replay import RecordedPoll, recorded_poll
from classroom.slides_wire import board_at
from classroom.tallies import Pacer
from classroom.visibility import audience, results_audience, votes_audience
from classroom.wire import public_form, to_wire

TALLY_EVERY_MS = 1000
Entry = dict[str, Any]
Key = tuple[str, str]
"""("poll" | "qa", id)"""


@dataclass
class Span:
    """The recording's bounds and pauses in wall-clock ms."""

    recording_id: str
    started: int = 0
    stopped: int | None = None
    pauses: list[tuple[int, int | None]] = field(default_factory=list)

    def clock(self, ts: int) -> int | None:
        """Recording time of wall-clock `ts`, or None outside the recording or in a pause."""
        if ts < self.started or (self.stopped is not None and ts > self.stopped):
            return None
        paused = 0
        for begin, end in self.pauses:
            if ts < begin:
                break
            if end is None or ts < end:
                return None
            paused += end - begin
        return ts - self.started - paused

    @property
    def duration_ms(self) -> int:
        if self.stopped is None:
            return 0
        ends = [end if end is not None else self.stopped for _, end in self.pauses]
        paused = sum(end - begin for (begin, _), end in zip(self.pauses, ends, strict=True))
        return max(0, self.stopped - self.started - paused)


@dataclass
class Collected:
    span: Span
    title: str
    events: list[Entry]
    chapters: list[Entry]
    tracks: list[Entry]
    participants: dict[str, str]
    """user id -> name, of everyone present during the recording."""
    hosts: set[str]
    polls: list[RecordedPoll] = field(default_factory=list)
    """The class's polls opened while it recorded, for the replay's own stream."""


def find_span(history: Iterable[e.Event], recording_id: str) -> Span | None:
    span: Span | None = None
    for ev in history:
        if getattr(ev, "recording_id", None) != recording_id:
            continue
        match ev:
            case e.RecordingStarted():
                span = Span(recording_id, started=ev.ts)
            case e.RecordingPaused() if span:
                span.pauses.append((ev.ts, None))
            case e.RecordingResumed() if span and span.pauses:
                span.pauses[-1] = (span.pauses[-1][0], ev.ts)
            case e.RecordingStopped() if span:
                span.stopped = ev.ts
    return span


def collect(history: Sequence[e.Event], span: Span) -> Collected:
    """Fold the whole journal (state before the start matters) and keep the span's events."""
    room = Classroom()
    out = Collected(span, "", [], [], [], {}, set())
    opened: dict[str, int] = {}
    tallies = _Tallies()
    last_ts = span.started
    rolling = False
    for ev in history:
        if rolling and (now := span.clock(ev.ts)) is not None:
            out.events += tallies.due(room, now, ev.ts)
        room.apply(ev)
        out.title = room.live.title
        # Order decides, not time: events in the same millisecond as a pause or
        # stop fall on the side of it their seq puts them.
        if isinstance(ev, e.CaptureFileStarted) and ev.recording_id == span.recording_id:
            out.tracks.append(_track(ev, span))  # noted late, maybe after a pause: keep it
            continue
        rolling = _rolling(ev, span.recording_id, rolling)
        t = span.clock(ev.ts) if rolling or _bound(ev, span.recording_id) else None
        if t is None:
            continue
        last_ts = ev.ts
        if isinstance(ev, e.RecordingStarted) and ev.recording_id == span.recording_id:
            _state_at_start(out, room, t)
        _note_people(out, room)
        _keep(out, ev, t)
        if isinstance(ev, e.PollOpened):
            opened.setdefault(ev.poll_id, t)
        for entry in tallies.after(room, ev, t):
            out.events.append(entry)
    if span.stopped is None:  # cut short by a crash: it lasted until its last event
        span.stopped = last_ts
    out.events += tallies.due(room, span.duration_ms, last_ts)
    out.events.sort(key=lambda entry: entry["t"])
    # Main-room polls only: a breakout room's poll was never in the recorded picture.
    mains = [(room.polls.polls[p], t) for p, t in opened.items()]
    mains = [(poll, t) for poll, t in mains if poll.room == e.MAIN_ROOM]
    out.polls = [recorded_poll(poll, t) for poll, t in mains]
    return out


def _track(ev: e.CaptureFileStarted, span: Span) -> Entry:
    return {
        "track_id": ev.track_id,
        "file": ev.file,
        "user_id": ev.user_id,
        "kind": ev.kind,
        "source": ev.source,
        "offset_ms": span.clock(ev.at_ms) or 0,
    }


def _rolling(ev: e.Event, recording_id: str, rolling: bool) -> bool:
    """Whether the recording runs after `ev`."""
    if getattr(ev, "recording_id", None) != recording_id:
        return rolling
    return isinstance(ev, e.RecordingStarted | e.RecordingResumed | e.RecordingMarker)


def _bound(ev: e.Event, recording_id: str) -> bool:
    """The events that end a stretch of recording still belong to it."""
    bounds = (e.RecordingPaused, e.RecordingStopped)
    return isinstance(ev, bounds) and getattr(ev, "recording_id", None) == recording_id


def _state_at_start(out: Collected, room: Classroom, t: int) -> None:
    """What the class looked like when the recording started, for the replay's start and the
    composite: the main room's board, and who was away in a breakout room."""
    board = board_at(room.slides, room.boards.of(e.MAIN_ROOM), e.MAIN_ROOM)
    if board is not None:
        out.events.append({"t": t, "name": "slides:state", "data": board})
    for member in room.live.present():
        if member.room != e.MAIN_ROOM:
            moved = {"user_id": member.user_id, "room": member.room}
            out.events.append({"t": t, "name": "participant:updated", "data": moved})


def _note_people(out: Collected, room: Classroom) -> None:
    for member in room.live.present():
        out.participants.setdefault(member.user_id, member.name)
        if member.role == "host":
            out.hosts.add(member.user_id)


def _keep(out: Collected, ev: e.Event, t: int) -> None:
    match ev:
        case e.RecordingMarker():
            out.chapters.append({"t_ms": t, "title": ev.title})
            out.events.append({"t": t, "name": "marker", "data": {"title": ev.title}})
            return
    wire = to_wire(ev)
    if wire is None or not audience(ev).reaches_learners:
        return
    name, payload = public_form(wire)
    out.events.append({"t": t, "name": name, "data": payload})
    if name in ("poll:opened", "breakout:opened"):
        title = _chapter_title(name, payload)
        out.chapters.append({"t_ms": t, "title": title})


def _chapter_title(name: str, payload: dict[str, Any]) -> str:
    if name == "poll:opened":
        poll = payload.get("poll", {})
        return f"Poll: {poll.get('question', '')}"[:200]
    return "Breakout rooms"


class _Tallies:
    """Poll results and question votes as the class saw them, in recording time: paced by
    `classroom.tallies.Pacer` (at most one a second each here), kept only where
    `classroom.visibility` says learners saw them live."""

    def __init__(self) -> None:
        self.pacer: Pacer[Key] = Pacer(TALLY_EVERY_MS)

    def due(self, room: Classroom, t: float, ts: int) -> list[Entry]:
        """The tallies due by recording time `t`, as the state is now (before the event at
        `t` is applied; at the end, `t` is the recording's length and every tally still due
        is placed at or before it)."""
        out: list[Entry] = []
        for key in self.pacer.due_by(t):
            at = self.pacer.waiting[key]
            self.pacer.sent(key, at)
            out += self._entry(room, key, int(min(at, t)), ts)
        return out

    def after(self, room: Classroom, ev: e.Event, t: int) -> list[Entry]:
        match ev:
            case e.PollResultsShown() | e.PollClosed() | e.PollPublished():
                key: Key = ("poll", ev.poll_id)
                self.pacer.sent(key, t)  # the exact tally, now: it supersedes one due
                return self._entry(room, key, t, ev.ts)
            case e.PollVoted():
                key = ("poll", ev.poll_id)
            case e.QuestionVoted():
                key = ("qa", ev.question_id)
            case _:
                return []
        if self.pacer.changed(key, t) == t:  # after a quiet spell: at once
            self.pacer.sent(key, t)
            return self._entry(room, key, t, ev.ts)
        return []

    @staticmethod
    def _entry(room: Classroom, key: Key, t: int, ts: int) -> list[Entry]:
        kind, ident = key
        if kind == "poll":
            poll = room.polls.get(ident)
            if not results_audience(poll).reaches_learners:
                return []
            return [{"t": t, "name": "poll:results", "data": live_results(poll, room.seq, ts)}]
        question = room.qa.questions[ident]
        if not votes_audience(question).reaches_learners:
            return []
        data = votes_view(room.qa, ident, room.seq, ts)
        return [{"t": t, "name": "qa:votes", "data": data}]


def chapters_vtt(chapters: list[Entry], duration_ms: int) -> str:
    lines = ["WEBVTT", ""]
    ordered = sorted(chapters, key=lambda c: c["t_ms"])
    for i, chapter in enumerate(ordered):
        end = ordered[i + 1]["t_ms"] if i + 1 < len(ordered) else max(duration_ms, chapter["t_ms"])
        lines += [str(i + 1), f"{vtt_time(chapter['t_ms'])} --> {vtt_time(end)}"]
        lines += [chapter["title"].replace("-->", "->"), ""]
    return "\n".join(lines)


def vtt_time(ms: int) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
