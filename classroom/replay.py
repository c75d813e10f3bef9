"""The replay's own stream: learners who watch a recording later take part in its class.

`Replay` is to a recording's stream what `Classroom` is to a class: `handle`
turns a command into events without changing anything, `apply` folds an
event in, and the state is the fold of the stream. What it folds over comes
from the published package (`Recording`: the recorded polls with the live
cohort's final results); what learners do is in the stream:

- ballots of the async cohort, one per learner per recorded poll (a new
  one replaces it), kept apart from the live tally, which never changes;
- questions asked at a moment of the recording, upvotes (one per person),
  one level of replies, and staff answers; staff may dismiss a question;
- each viewer's visits and watch progress (merged spans: a stretch watched
  twice counts once).

Roles come from the replay token and are checked against the live class's
grants table: a viewer acts as a participant (`roles.acting_role`).
Anonymous questions have no author anywhere, as in the live class; a ballot
of an anonymous poll is keyed by its voter inside the server only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec

from classroom import commands as c
from classroom import events as e
from classroom import replay_events as r
from classroom import spans
from classroom.errors import DomainError
from classroom.live import Context
from classroom.polls import Poll, poll_of, to_ballot
from classroom.roles import ReplayRole, acting_role, is_staff, require

MAX_QUESTIONS = 5000
"""Questions per recording, bounded for memory; the rate limiter paces each asker."""
MAX_REPLIES = 30
"""Replies under one question: a thread, not a chat room."""
POSITION_STEP_MS = 1000
"""A report that only moves the position by less than this makes no event."""


@dataclass(frozen=True)
class RecordedPoll:
    """A poll opened during the recording, as the package holds it."""

    poll_id: str
    at_ms: int
    """When it opened, on the recording's clock."""
    question: str
    kind: e.PollKind
    options: list[str] = field(default_factory=list)
    min: int | None = None
    max: int | None = None
    anonymous: bool = False
    quiz: bool = False
    """It was asked as a quiz question."""
    correct: list[int] | None = None
    """The right options, only for a quiz question the host published in class."""
    live: e.PollResults | None = None
    """The live cohort's final tally."""


@dataclass(frozen=True)
class Recording:
    """What a recording's stream folds over: the published package's facts."""

    recording_id: str
    class_id: str
    title: str
    duration_ms: int
    polls: list[RecordedPoll] = field(default_factory=list)


@dataclass
class Viewer:
    user_id: str
    name: str
    role: ReplayRole
    first_seen: int = 0
    last_seen: int = 0
    """The last visit or progress report."""
    previous_seen: int | None = None
    """`last_seen` as it was when the current visit began: what changed since is new to them."""
    visits: int = 0
    position_ms: int = 0
    watched: list[spans.Span] = field(default_factory=list)

    @property
    def staff(self) -> bool:
        return is_staff(acting_role(self.role))


@dataclass
class Thread:
    """A question of the replay, its voters, and whether viewers may see it."""

    question: r.AsyncQuestion
    voters: set[str] = field(default_factory=set)

    @property
    def dismissed(self) -> bool:
        return self.question.status == "dismissed"

    def changed(self, **changes: object) -> r.AsyncQuestion:
        """The question a change would leave, for the event that records it."""
        return msgspec.structs.replace(self.question, votes=len(self.voters), **changes)


class Replay:
    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.seq = 0
        self.viewers: dict[str, Viewer] = {}
        self.recorded: dict[str, RecordedPoll] = {p.poll_id: p for p in recording.polls}
        self.polls: dict[str, Poll] = {p.poll_id: _cohort(p) for p in recording.polls}
        """The async cohort of each recorded poll."""
        self.questions: dict[str, Thread] = {}
        """Asking order."""
        self.anonymous_views = 0
        """Views by guests (without a name): a count, and nothing else of theirs."""

    @classmethod
    def replay(cls, recording: Recording, history: Iterable[e.Event]) -> Replay:
        stream = cls(recording)
        for ev in history:
            stream.apply(ev)
        return stream

    @property
    def duration_ms(self) -> int:
        return self.recording.duration_ms

    # -- commands ------------------------------------------------------------

    def visit(self, user_id: str, name: str, role: ReplayRole) -> list[e.Event]:
        """A viewer opens the replay (a resumed connection is no new visit)."""
        return [r.ViewerVisited(actor=user_id, user_id=user_id, name=name, role=role)]

    def guest_watched(self) -> list[e.Event]:
        """A guest opens the replay (watching only, without a name)."""
        return [r.GuestWatched()]

    def admit(self, user_id: str, cmd: c.Command) -> Viewer:
        """The gate: the sender opened the replay with a name, and their role grants it."""
        viewer = self.viewers.get(user_id)
        if viewer is None:
            raise DomainError("name_required", "open the replay with your name to take part")
        require(acting_role(viewer.role), cmd.action)
        return viewer

    def handle(self, user_id: str, cmd: c.Command, ctx: Context) -> list[e.Event]:
        viewer = self.admit(user_id, cmd)
        match cmd:
            case c.ReplayVote():
                return self._vote(viewer, cmd)
            case c.ReplayAsk():
                return self._ask(viewer, cmd, ctx)
            case c.ReplayUpvote() | c.ReplayUnvote():
                return self._upvote(viewer, cmd.question_id, isinstance(cmd, c.ReplayUpvote))
            case c.ReplayReply():
                return self._reply(viewer, cmd, ctx)
            case c.ReplayAnswer():
                return self._answer(viewer, cmd, ctx)
            case c.ReplayDismiss():
                thread = self.thread(viewer, cmd.question_id)
                if thread.dismissed:
                    raise DomainError("conflict", "the question is already dismissed")
                dismissed = thread.changed(status="dismissed")
                return [r.AsyncDismissed(actor=viewer.user_id, question=dismissed)]
            case c.ReplayProgress():
                return self._progress(viewer, cmd)
        raise DomainError("bad_request", f"{type(cmd).__name__} is not a replay command")

    def recorded_poll(self, poll_id: str) -> RecordedPoll:
        found = self.recorded.get(poll_id)
        if found is None:
            raise DomainError("not_found", f"no poll {poll_id!r} in this recording")
        return found

    def thread(self, viewer: Viewer, question_id: str) -> Thread:
        """The question, if `viewer` may see it: a dismissed one is unknown to learners."""
        thread = self.questions.get(question_id)
        if thread is None or (thread.dismissed and not viewer.staff):
            raise DomainError("not_found", f"no question {question_id!r}")
        return thread

    def _vote(self, viewer: Viewer, cmd: c.ReplayVote) -> list[e.Event]:
        poll = self.polls[self.recorded_poll(cmd.poll_id).poll_id]
        answer = poll.check(cmd.answer)
        previous = poll.ballots.get(viewer.user_id)
        if previous is not None and previous.answer == answer:
            return []  # a resent ballot changes nothing
        ballot = to_ballot(answer)
        voter = viewer.user_id
        return [r.AsyncVoted(actor=voter, poll_id=poll.id, voter=voter, answer=ballot)]

    def _ask(self, viewer: Viewer, cmd: c.ReplayAsk, ctx: Context) -> list[e.Event]:
        if len(self.questions) >= MAX_QUESTIONS:
            raise DomainError("conflict", f"a recording holds at most {MAX_QUESTIONS} questions")
        if cmd.at_ms > self.duration_ms:
            raise DomainError("bad_request", f"the recording is {self.duration_ms} ms long")
        question = r.AsyncQuestion(
            id=ctx.new_id(),
            text=_plain(cmd.text, "the question"),
            at_ms=cmd.at_ms,
            author_id=None if cmd.anonymous else viewer.user_id,
            author_name=None if cmd.anonymous else viewer.name,
            asked_at=ctx.now,
        )
        return [r.AsyncAsked(actor="" if cmd.anonymous else viewer.user_id, question=question)]

    def _upvote(self, viewer: Viewer, question_id: str, up: bool) -> list[e.Event]:
        thread = self.thread(viewer, question_id)
        if thread.dismissed:
            raise DomainError("conflict", "the question is dismissed")
        if (viewer.user_id in thread.voters) == up:
            return []  # one vote per person: a repeat changes nothing
        who = viewer.user_id
        return [r.AsyncUpvoted(actor=who, question_id=question_id, user_id=who, up=up)]

    def _reply(self, viewer: Viewer, cmd: c.ReplayReply, ctx: Context) -> list[e.Event]:
        thread = self.thread(viewer, cmd.question_id)
        if thread.dismissed:
            raise DomainError("conflict", "the question is dismissed")
        if len(thread.question.replies) >= MAX_REPLIES:
            raise DomainError("conflict", f"a question takes at most {MAX_REPLIES} replies")
        reply = r.Reply(
            id=ctx.new_id(),
            text=_plain(cmd.text, "the reply"),
            user_id=viewer.user_id,
            name=viewer.name,
            staff=viewer.staff,
            ts=ctx.now,
        )
        replied = thread.changed(replies=(*thread.question.replies, reply))
        return [r.AsyncReplied(actor=viewer.user_id, question=replied)]

    def _answer(self, viewer: Viewer, cmd: c.ReplayAnswer, ctx: Context) -> list[e.Event]:
        thread = self.thread(viewer, cmd.question_id)
        if thread.dismissed:
            raise DomainError("conflict", "the question is dismissed")
        answered = thread.changed(
            status="answered",
            answer=_plain(cmd.text, "the answer"),
            answered_by=viewer.name,
            answered_at=ctx.now,
        )
        return [r.AsyncAnswered(actor=viewer.user_id, question=answered)]

    def _progress(self, viewer: Viewer, cmd: c.ReplayProgress) -> list[e.Event]:
        position = min(cmd.position_ms, self.duration_ms)
        watched = spans.merge(spans.clamp(cmd.watched, self.duration_ms))
        added = spans.missing(viewer.watched, watched)
        again = spans.missing(added, watched)
        if not added and not again and abs(position - viewer.position_ms) < POSITION_STEP_MS:
            return []
        who = viewer.user_id
        return [
            r.ProgressNoted(actor=who, user_id=who, position_ms=position, added=added, again=again)
        ]

    # -- events --------------------------------------------------------------

    def commit(self, drafts: list[e.Event], ts: int) -> list[e.Event]:
        """Number the drafts after the last event, stamp them with `ts`, apply them."""
        stamped = e.stamp_after(drafts, self.seq, ts)
        for ev in stamped:
            self.apply(ev)
        return stamped

    def apply(self, ev: e.Event) -> None:
        if ev.seq != self.seq + 1:
            raise ValueError(f"event seq {ev.seq} does not follow {self.seq}")
        self.seq = ev.seq
        match ev:
            case r.ViewerVisited():
                self._visited(ev)
            case r.GuestWatched():
                self.anonymous_views += 1
            case r.AsyncVoted():
                self._voted(ev)
            case r.AsyncAsked():
                self.questions[ev.question.id] = Thread(ev.question)
            case r.AsyncQuestionEvent():
                thread = self.questions[ev.question.id]
                thread.question = msgspec.structs.replace(ev.question, votes=len(thread.voters))
            case r.AsyncUpvoted():
                thread = self.questions[ev.question_id]
                (thread.voters.add if ev.up else thread.voters.discard)(ev.user_id)
                thread.question = msgspec.structs.replace(thread.question, votes=len(thread.voters))
            case r.ProgressNoted():
                viewer = self.viewers[ev.user_id]
                viewer.position_ms, viewer.last_seen = ev.position_ms, ev.ts
                viewer.watched = spans.add(viewer.watched, ev.added)

    def _visited(self, ev: r.ViewerVisited) -> None:
        viewer = self.viewers.get(ev.user_id)
        if viewer is None:
            viewer = self.viewers[ev.user_id] = Viewer(ev.user_id, ev.name, ev.role, ev.ts)
        else:
            viewer.previous_seen = viewer.last_seen
        viewer.name, viewer.role = ev.name, ev.role
        viewer.last_seen = ev.ts
        viewer.visits += 1

    def _voted(self, ev: r.AsyncVoted) -> None:
        poll = self.polls.get(ev.poll_id)
        if poll is not None:  # else the package no longer holds it (trimmed away)
            poll.cast(ev.voter, ev.answer, ev.ts)


def recorded_poll(poll: Poll, at_ms: int) -> RecordedPoll:
    """A poll of the class as its recording keeps it: its final live tally, and its answer
    key only if the host published it in class (a quiz never revealed stays unrevealed)."""
    revealed = poll.quiz and poll.status == "published"
    return RecordedPoll(
        poll_id=poll.id,
        at_ms=at_ms,
        question=poll.question,
        kind=poll.kind,
        options=list(poll.options),
        min=poll.min if poll.kind == "rating" else None,
        max=poll.max if poll.kind == "rating" else None,
        anonymous=poll.anonymous,
        quiz=poll.quiz,
        correct=list(poll.correct) if revealed and poll.correct is not None else None,
        live=poll.results(),
    )


def encode_polls(polls: list[RecordedPoll]) -> bytes:
    return msgspec.json.encode(polls)


def decode_polls(data: bytes) -> list[RecordedPoll]:
    """The recorded polls a package's build wrote; raises msgspec.DecodeError on garbage."""
    return msgspec.json.decode(data, type=list[RecordedPoll])


def _cohort(recorded: RecordedPoll) -> Poll:
    """An empty poll of the recorded poll's definition, open to the async cohort's ballots."""
    created = e.PollCreated(
        poll_id=recorded.poll_id,
        question=recorded.question,
        kind=recorded.kind,
        options=list(recorded.options),
        anonymous=recorded.anonymous,
        correct=recorded.correct,
        min=recorded.min,
        max=recorded.max,
    )
    poll = poll_of(created)
    poll.status = "open"
    return poll


def _plain(text: str, what: str) -> str:
    """Text with its runs of whitespace made single spaces; bad_request when nothing is left."""
    plain = " ".join(text.split())
    if not plain:
        raise DomainError("bad_request", f"{what} is empty")
    return plain
