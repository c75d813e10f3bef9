"""Reports of a live class: attendance, participation, a timeline, breakout rooms.

A report is a fold of the class's journal, computed when asked: the journal
stays the one record of what happened. `ReportFold` takes the events in
order (and can take more later, so a report of a class still going on is
brought up to date by folding only what is new); `report(as_of)` lays the
figures out without changing the fold.

Presence. Each person's presence is a list of spans `[joined_ts, left_ts]`,
`left_ts` None while they are still here. A dropped connection is journaled
as a leave and, when the client comes back, a join; a second socket that
replaces the first is not journaled at all. So that a reconnect does not
split a stay, a join that comes within REJOIN_GAP_MS of the same person's
last leave continues the span that leave closed: the gap counts as present.
The class ending closes every open span.

The class starts when its first host joins (or its first person, if no host
ever came): `late_ms` is how long after that someone first joined, and
`late` says it was more than LATE_AFTER_MS. Once the class has ended,
`left_early_ms` is how long before the end someone left for good (0 for those
there at the end) and `left_early` says it was more than EARLY_BEFORE_MS.

Participation counts what each person did: chat messages (direct ones
included, and counted apart), hands raised, reactions, polls answered and
quiz questions answered right (a changed ballot counts once, as last cast;
quiz questions count once closed), questions asked and upvotes received and
given, and time speaking (from the SFU's active-speaker events: a person
speaks from the event naming them until the next speaker event of that room,
or until they leave or change room).

Anonymity. Nothing here names the voter of an anonymous poll or the author
of an anonymous question: anonymous polls count in nobody's `polls_answered`
or quiz scores (only in the poll's own tallies), and anonymous questions are
recorded without an author, so they count in nobody's `questions` or
`upvotes_received`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from classroom import events as e
from classroom.polls import Polls
from classroom.qa import QA
from classroom.reports_timeline import Timeline, TimelineFold
from classroom.roles import Role

REJOIN_GAP_MS = 60_000
"""A rejoin within this long after a leave continues the same span of presence."""
LATE_AFTER_MS = 5 * 60_000
EARLY_BEFORE_MS = 5 * 60_000
MAIN = e.MAIN_ROOM


class JournalGap(ValueError):
    """An event does not follow the last one folded: the fold must start over."""


# -- what a report holds ---------------------------------------------------


class Attendance(msgspec.Struct):
    user_id: str
    name: str
    role: Role
    spans: list[tuple[int, int | None]]
    present_ms: int
    joins: int
    """Connections journaled (reconnects included): `joins - len(spans)` were rejoins."""
    first_joined_at: int
    last_left_at: int | None
    late_ms: int
    late: bool
    left_early_ms: int | None
    left_early: bool


class Participation(msgspec.Struct):
    user_id: str
    name: str
    chat: int
    direct_messages: int
    hands: int
    reactions: int
    polls_answered: int
    quiz_answered: int
    quiz_correct: int
    questions: int
    upvotes_received: int
    upvotes_given: int
    speaking_ms: int


class PollSummary(msgspec.Struct):
    poll_id: str
    question: str
    kind: e.PollKind
    room: str
    anonymous: bool
    quiz: bool
    status: str
    opened_at: int | None
    closed_at: int | None
    results: e.PollResults
    correct_voters: int | None
    """Quiz questions: how many final ballots are right."""


class RoomPerson(msgspec.Struct):
    user_id: str
    name: str
    role: Role
    present_ms: int


class HelpRequest(msgspec.Struct):
    t: int
    user_id: str
    name: str


class BreakoutSummary(msgspec.Struct):
    round: int
    room_id: str
    name: str
    opened_at: int
    closed_at: int | None
    people: list[RoomPerson]
    """Everyone who was in the room (staff visits included), most time first."""
    messages: int
    help_requests: list[HelpRequest]


class RecordingSummary(msgspec.Struct):
    recording_id: str
    started_at: int
    stopped_at: int | None


class Rules(msgspec.Struct):
    rejoin_gap_ms: int = REJOIN_GAP_MS
    late_after_ms: int = LATE_AFTER_MS
    early_before_ms: int = EARLY_BEFORE_MS


class ClassReport(msgspec.Struct):
    class_id: str
    title: str
    media: str
    created_at: int
    started_at: int | None
    ended_at: int | None
    as_of: int
    """The figures of people still present count up to this time."""
    duration_ms: int
    people: int
    peak_present: int
    rules: Rules
    attendance: list[Attendance]
    participation: list[Participation]
    timeline: Timeline
    polls: list[PollSummary]
    breakouts: list[BreakoutSummary]
    recordings: list[RecordingSummary]


# -- the fold --------------------------------------------------------------


@dataclass
class Person:
    user_id: str
    name: str
    role: Role
    spans: list[list[int | None]] = field(default_factory=list)
    joins: int = 0
    present: bool = False
    room: str = MAIN
    room_since: int = 0
    chat: int = 0
    direct: int = 0
    hands: int = 0
    reactions: int = 0
    speaking_ms: int = 0


@dataclass
class Room:
    round: int
    room_id: str
    name: str
    opened_at: int
    closed_at: int | None = None
    present_ms: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    help: list[HelpRequest] = field(default_factory=list)


class ReportFold:
    """Everything a report needs, folded from the journal event by event."""

    def __init__(self) -> None:
        self.seq = 0
        self.last_ts = 0
        self.class_id = self.title = ""
        self.media = "sfu"
        self.created_at = 0
        self.started_at: int | None = None
        self.started_by = ""
        self.host_joined = False
        self.ended_at: int | None = None
        self.people: dict[str, Person] = {}
        self.polls = Polls()
        self.qa = QA()
        self.poll_times: dict[str, list[int | None]] = {}
        """poll id -> [opened_at, closed_at]."""
        self.rooms: dict[str, Room] = {}
        self.rounds = 0
        self.speakers: dict[str, tuple[str, int]] = {}
        """room -> (speaker, since)."""
        self.recordings: dict[str, RecordingSummary] = {}
        self.timeline = TimelineFold()
        self.peak_present = 0

    @classmethod
    def of(cls, history: Iterable[e.Event]) -> ReportFold:
        fold = cls()
        for ev in history:
            fold.apply(ev)
        return fold

    def apply(self, ev: e.Event) -> None:
        # Same rule as the class itself: a hole means the figures would be guesses.
        if ev.seq != self.seq + 1:
            raise JournalGap(f"event seq {ev.seq} does not follow {self.seq}")
        self.seq, self.last_ts = ev.seq, max(self.last_ts, ev.ts)
        handler = _HANDLERS.get(type(ev))
        if handler is not None:
            handler(self, ev)
        elif isinstance(ev, e.PollEvent):
            self.polls.apply(ev)
        elif isinstance(ev, e.QuestionEvent | e.QuestionVoted):
            self.qa.apply(ev)

    def role_of(self, user_id: str) -> Role | None:
        person = self.people.get(user_id)
        return person.role if person is not None else None

    # -- presence ----------------------------------------------------------

    def _joined(self, ev: e.ParticipantJoined) -> None:
        person = self.people.get(ev.user_id)
        if person is None:
            person = self.people[ev.user_id] = Person(ev.user_id, ev.name, ev.role)
        person.name, person.role = ev.name, ev.role
        person.joins += 1
        last = person.spans[-1] if person.spans else None
        if last is not None and last[1] is not None and ev.ts - last[1] <= REJOIN_GAP_MS:
            last[1] = None
        elif last is None or last[1] is not None:
            person.spans.append([ev.ts, None])
        if not person.present:
            person.present = True
            self.timeline.presence(ev.ts, +1)
            self.peak_present = max(self.peak_present, self.timeline.present)
        person.room, person.room_since = ev.room, ev.ts
        if self.started_at is None or (ev.role == "host" and not self.host_joined):
            self.started_at, self.started_by = ev.ts, ev.user_id
            self.host_joined = ev.role == "host"

    def _left(self, ev: e.ParticipantLeft) -> None:
        person = self.people.get(ev.user_id)
        if person is not None and person.present:
            self._gone(person, ev.ts)
            self.timeline.presence(ev.ts, -1)

    def _gone(self, person: Person, ts: int) -> None:
        person.spans[-1][1] = ts
        person.present = False
        self._leave_room(person, ts)

    def _ended(self, ev: e.ClassEnded) -> None:
        self.ended_at = ev.ts
        for person in self.people.values():
            if person.present:
                self._gone(person, ev.ts)
                self.timeline.presence(ev.ts, -1)
        self.timeline.moment(ev.ts, "class.ended")

    def _role(self, ev: e.RoleChanged) -> None:
        if ev.user_id in self.people:
            self.people[ev.user_id].role = ev.role

    # -- rooms and speaking ------------------------------------------------

    def _moved(self, ev: e.ParticipantMoved) -> None:
        person = self.people.get(ev.user_id)
        if person is None:
            return
        if person.present:
            self._leave_room(person, ev.ts)
        person.room, person.room_since = ev.room, ev.ts

    def _leave_room(self, person: Person, ts: int) -> None:
        """`person` stops being in their room at `ts` (they left, moved, or the class ended)."""
        room = self.rooms.get(person.room)
        if room is not None:
            so_far = room.present_ms.get(person.user_id, 0)
            room.present_ms[person.user_id] = so_far + ts - person.room_since
        spoke = self.speakers.get(person.room)
        if spoke is not None and spoke[0] == person.user_id:
            person.speaking_ms += ts - spoke[1]
            del self.speakers[person.room]

    def _speaker(self, ev: e.SpeakerChanged) -> None:
        spoke = self.speakers.pop(ev.room, None)
        if spoke is not None and spoke[0] in self.people:
            self.people[spoke[0]].speaking_ms += ev.ts - spoke[1]
        if ev.user_id is not None:
            self.speakers[ev.room] = (ev.user_id, ev.ts)

    # -- what people did ---------------------------------------------------

    def _chat(self, ev: e.ChatSent) -> None:
        person = self.people.get(ev.user_id)
        if person is not None:
            person.chat += 1
            person.direct += ev.to_user is not None
        room = self.rooms.get(ev.room)
        if room is not None:
            room.messages += 1
        self.timeline.chatted(ev.ts)

    def _hand(self, ev: e.HandChanged) -> None:
        if ev.raised and ev.user_id in self.people:
            self.people[ev.user_id].hands += 1

    def _reaction(self, ev: e.ReactionSent) -> None:
        if ev.user_id in self.people:
            self.people[ev.user_id].reactions += 1
        self.timeline.reacted(ev.ts)

    # -- polls, breakouts, recordings --------------------------------------

    def _poll(self, ev: e.PollEvent) -> None:
        self.polls.apply(ev)
        times = self.poll_times.setdefault(ev.poll_id, [None, None])
        poll = self.polls.polls[ev.poll_id]
        if isinstance(ev, e.PollOpened):
            times[0] = ev.ts
            self.timeline.moment(ev.ts, "poll.opened", poll.id, poll.question)
        elif isinstance(ev, e.PollClosed):
            times[1] = ev.ts
            self.timeline.moment(ev.ts, "poll.closed", poll.id, poll.question)
        elif isinstance(ev, e.PollPublished):
            self.timeline.moment(ev.ts, "poll.published", poll.id, poll.question)

    def _breakouts_opened(self, ev: e.BreakoutOpened) -> None:
        self.rounds += 1
        for r in ev.rooms:
            self.rooms[r.id] = Room(self.rounds, r.id, r.name, ev.ts)
        self.timeline.moment(ev.ts, "breakout.opened", label=str(len(ev.rooms)))

    def _breakouts_closed(self, ev: e.BreakoutClosed) -> None:
        for room in self.rooms.values():
            if room.closed_at is None:
                room.closed_at = ev.ts
        self.timeline.moment(ev.ts, "breakout.closed")

    def _help(self, ev: e.BreakoutHelpRequested) -> None:
        room = self.rooms.get(ev.room_id)
        if room is not None:
            room.help.append(HelpRequest(ev.ts, ev.user_id, ev.name))

    def _recording(self, ev: Any) -> None:
        kind = _RECORDING_MOMENTS[type(ev)]
        if isinstance(ev, e.RecordingStarted):
            self.recordings[ev.recording_id] = RecordingSummary(ev.recording_id, ev.ts, None)
        elif isinstance(ev, e.RecordingStopped) and ev.recording_id in self.recordings:
            self.recordings[ev.recording_id].stopped_at = ev.ts
        label = ev.title if isinstance(ev, e.RecordingMarker) else None
        self.timeline.moment(ev.ts, kind, ev.recording_id, label)

    # -- the report --------------------------------------------------------

    def report(self, now: int) -> ClassReport:
        """The figures as of `now` (the end, for an ended class); the fold is unchanged."""
        as_of = self.ended_at if self.ended_at is not None else max(now, self.last_ts)
        people = sorted(self.people.values(), key=lambda p: (p.spans[0][0] or 0, p.user_id))
        start = self.started_at
        return ClassReport(
            class_id=self.class_id,
            title=self.title,
            media=self.media,
            created_at=self.created_at,
            started_at=start,
            ended_at=self.ended_at,
            as_of=as_of,
            duration_ms=as_of - start if start is not None else 0,
            people=len(people),
            peak_present=self.peak_present,
            rules=Rules(),
            attendance=[self._attendance(p, as_of) for p in people],
            participation=self._participation(people, as_of),
            timeline=self.timeline.timeline(as_of),
            polls=self._polls(),
            breakouts=self._breakouts(as_of),
            recordings=list(self.recordings.values()),
        )

    def _attendance(self, p: Person, as_of: int) -> Attendance:
        spans = [(s or 0, t) for s, t in p.spans]
        present_ms = sum((as_of if t is None else t) - s for s, t in spans)
        first, last = spans[0][0], spans[-1][1]
        late_ms = max(0, first - self.started_at) if self.started_at is not None else 0
        early: int | None = None
        if self.ended_at is not None and last is not None:
            early = self.ended_at - last
        return Attendance(
            user_id=p.user_id,
            name=p.name,
            role=p.role,
            spans=spans,
            present_ms=present_ms,
            joins=p.joins,
            first_joined_at=first,
            last_left_at=last,
            late_ms=late_ms,
            late=late_ms > LATE_AFTER_MS,
            left_early_ms=early,
            left_early=early is not None and early > EARLY_BEFORE_MS,
        )

    def _participation(self, people: list[Person], as_of: int) -> list[Participation]:
        answered: dict[str, list[int]] = {}
        for poll in self.polls.polls.values():
            if poll.anonymous:
                continue  # counting these per person would say who voted
            scored = poll.quiz and poll.status in ("closed", "published")
            for voter in poll.ballots:
                counts = answered.setdefault(voter, [0, 0, 0])
                counts[0] += 1
                if scored:
                    counts[1] += 1
                    counts[2] += poll.is_correct(poll.ballots[voter].answer)
        asked: dict[str, list[int]] = {}
        for question in self.qa.questions.values():
            if question.author_id is not None:
                counts = asked.setdefault(question.author_id, [0, 0, 0])
                counts[0] += 1
                counts[1] += len(question.voters)
            for voter in question.voters:
                asked.setdefault(voter, [0, 0, 0])[2] += 1
        speaking = {uid: as_of - since for uid, since in self.speakers.values()}
        out: list[Participation] = []
        for p in people:
            polls = answered.get(p.user_id, [0, 0, 0])
            qa = asked.get(p.user_id, [0, 0, 0])
            out.append(
                Participation(
                    user_id=p.user_id,
                    name=p.name,
                    chat=p.chat,
                    direct_messages=p.direct,
                    hands=p.hands,
                    reactions=p.reactions,
                    polls_answered=polls[0],
                    quiz_answered=polls[1],
                    quiz_correct=polls[2],
                    questions=qa[0],
                    upvotes_received=qa[1],
                    upvotes_given=qa[2],
                    speaking_ms=p.speaking_ms + speaking.get(p.user_id, 0),
                )
            )
        return out

    def _polls(self) -> list[PollSummary]:
        out: list[PollSummary] = []
        for poll in self.polls.polls.values():
            opened, closed = self.poll_times.get(poll.id, [None, None])
            right = sum(poll.is_correct(b.answer) for b in poll.ballots.values())
            out.append(
                PollSummary(
                    poll_id=poll.id,
                    question=poll.question,
                    kind=poll.kind,
                    room=poll.room,
                    anonymous=poll.anonymous,
                    quiz=poll.quiz,
                    status=poll.status,
                    opened_at=opened,
                    closed_at=closed,
                    results=poll.results(),
                    correct_voters=right if poll.quiz else None,
                )
            )
        return out

    def _breakouts(self, as_of: int) -> list[BreakoutSummary]:
        out: list[BreakoutSummary] = []
        staying: dict[str, list[Person]] = {}
        for p in self.people.values():
            if p.present and p.room in self.rooms:
                staying.setdefault(p.room, []).append(p)
        for room in self.rooms.values():
            times = dict(room.present_ms)
            for p in staying.get(room.room_id, ()):
                times[p.user_id] = times.get(p.user_id, 0) + as_of - p.room_since
            ranked = sorted(times.items(), key=lambda item: (-item[1], item[0]))
            people = [
                RoomPerson(uid, self.people[uid].name, self.people[uid].role, ms)
                for uid, ms in ranked
            ]
            out.append(
                BreakoutSummary(
                    round=room.round,
                    room_id=room.room_id,
                    name=room.name,
                    opened_at=room.opened_at,
                    closed_at=room.closed_at,
                    people=people,
                    messages=room.messages,
                    help_requests=list(room.help),
                )
            )
        return out


def _created(fold: ReportFold, ev: e.ClassCreated) -> None:
    fold.class_id, fold.title, fold.media, fold.created_at = ev.class_id, ev.title, ev.media, ev.ts


_RECORDING_MOMENTS: dict[type, str] = {
    e.RecordingStarted: "recording.started",
    e.RecordingPaused: "recording.paused",
    e.RecordingResumed: "recording.resumed",
    e.RecordingStopped: "recording.stopped",
    e.RecordingMarker: "recording.marker",
}

_HANDLERS: dict[type, Callable[[ReportFold, Any], None]] = {
    e.ClassCreated: _created,
    e.ClassEnded: ReportFold._ended,
    e.ParticipantJoined: ReportFold._joined,
    e.ParticipantLeft: ReportFold._left,
    e.RoleChanged: ReportFold._role,
    e.ParticipantMoved: ReportFold._moved,
    e.SpeakerChanged: ReportFold._speaker,
    e.ChatSent: ReportFold._chat,
    e.HandChanged: ReportFold._hand,
    e.ReactionSent: ReportFold._reaction,
    e.PollOpened: ReportFold._poll,
    e.PollClosed: ReportFold._poll,
    e.PollPublished: ReportFold._poll,
    e.BreakoutOpened: ReportFold._breakouts_opened,
    e.BreakoutClosed: ReportFold._breakouts_closed,
    e.BreakoutHelpRequested: ReportFold._help,
    **dict.fromkeys(_RECORDING_MOMENTS, ReportFold._recording),
}


def class_report(history: Iterable[e.Event], now: int) -> ClassReport:
    return ReportFold.of(history).report(now)
