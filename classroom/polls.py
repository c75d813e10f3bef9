"""Live polls: create, open, vote, close, show results, publish; quizzes and their scores.

Lifecycle: draft -> open -> closed -> published. A draft is seen by hosts and
moderators only; votes are taken while the poll is open; participants see the
results once the host shows them (`poll:show_results`) or publishes the poll;
hosts and moderators always see live results. `duration_s` makes the server
close the poll by itself (the timer lives on the signaling side and commits a
`PollClosed(reason="timer")` through `expire`).

Anonymity. Ballots of an anonymous poll are still keyed by voter inside the
server, rebuilt from the journal (the `PollVoted` record holds the voter):
that is how one person counts once across reconnects, duplicate tabs,
restarts and failovers. Nothing that leaves the server carries that key:
`PollVoted` is never sent to anyone, results are tallies, exports of
anonymous polls have no voter columns and list ballots sorted by answer,
quiz leaderboards leave anonymous polls out, and a voter's own ballot and
grade go to that voter only.

Scope. A poll belongs to the room its creator was in (main or a breakout
room): participants in that room see it and vote; hosts and moderators see
every poll of the class.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from classroom import commands as c
from classroom import events as e
from classroom import scoped
from classroom.dispatch import handles
from classroom.errors import DomainError
from classroom.live import Context, Member
from classroom.polls_words import top_words, words_of
from classroom.roles import Role, is_staff

if TYPE_CHECKING:
    from classroom.aggregate import Classroom

MAX_POLLS = 500
"""Polls per class; enough for a semester of quizzes, bounded for memory."""
RATING_SPAN_MAX = 100
TRUEFALSE = ["True", "False"]
CHOICE_KINDS = frozenset({"single", "multiple", "truefalse"})

PollStatus = Literal["draft", "open", "closed", "published"]
Answer = tuple[int, ...] | int | str
"""A checked ballot: sorted distinct option indices, a rating value, or normalised text."""


def bad(message: str) -> DomainError:
    return DomainError("bad_request", message)


@dataclass
class Ballot:
    answer: Answer
    ts: int


@dataclass
class Poll:
    id: str
    question: str
    kind: e.PollKind
    room: str
    options: list[str] = field(default_factory=list)
    anonymous: bool = False
    correct: tuple[int, ...] | None = None
    min: int = 1
    max: int = 5
    duration_s: int | None = None
    created_ts: int = 0
    status: PollStatus = "draft"
    ends_at: int | None = None
    shown: bool = False
    """Participants may see the live results (the host showed them)."""
    ballots: dict[str, Ballot] = field(default_factory=dict)
    """voter -> ballot; never leaves the server for anonymous polls."""
    counts: list[int] = field(default_factory=list)
    words: Counter[str] = field(default_factory=Counter)
    rating_sum: int = 0

    @property
    def quiz(self) -> bool:
        return self.correct is not None

    def visible_to(self, role: Role, room: str) -> bool:
        return is_staff(role) or (self.status != "draft" and self.room == room)

    def results_visible_to(self, role: Role) -> bool:
        return is_staff(role) or self.shown or self.status == "published"

    def is_correct(self, answer: Answer) -> bool:
        return self.correct is not None and answer == self.correct

    def results(self) -> e.PollResults:
        voters = len(self.ballots)
        if self.kind == "text":
            return e.PollResults(
                kind="text", words=top_words(self.words), total=voters, voters=voters
            )
        if self.kind == "rating":
            mean = round(self.rating_sum / voters, 2) if voters else None
            return e.PollResults(
                kind="rating", counts=list(self.counts), total=voters, voters=voters, mean=mean
            )
        return e.PollResults(
            kind=self.kind, counts=list(self.counts), total=sum(self.counts), voters=voters
        )

    def check(self, answer: e.PollBallot) -> Answer:
        """The ballot `answer` stands for, or bad_request if it does not fit the poll."""
        if self.kind in CHOICE_KINDS:
            if not isinstance(answer, list):
                raise bad("answer with a list of option indices, e.g. [0]")
            picked = tuple(sorted(set(answer)))
            if len(picked) != len(answer) or not picked:
                raise bad("pick each option at most once, and at least one")
            if picked[-1] >= len(self.options):
                raise bad(f"this poll has {len(self.options)} options")
            if self.kind != "multiple" and len(picked) != 1:
                raise bad("pick exactly one option")
            return picked
        if self.kind == "rating":
            if type(answer) is not int or not self.min <= answer <= self.max:
                raise bad(f"answer with a whole number from {self.min} to {self.max}")
            return answer
        if not isinstance(answer, str) or not answer.split():
            raise bad("answer with some text")
        return " ".join(answer.split())

    def cast(self, voter: str, ballot: e.PollBallot, ts: int) -> None:
        """Count the voter's ballot, replacing their previous one (counts never double)."""
        previous = self.ballots.pop(voter, None)
        if previous is not None:
            self.tally(previous.answer, -1)
        answer = from_ballot(ballot)
        self.ballots[voter] = Ballot(answer, ts)
        self.tally(answer, 1)

    def tally(self, answer: Answer, sign: int) -> None:
        """Add (sign 1) or take back (sign -1) one ballot's contribution."""
        if isinstance(answer, tuple):
            for index in answer:
                self.counts[index] += sign
        elif isinstance(answer, int):
            self.counts[answer - self.min] += sign
            self.rating_sum += sign * answer
        else:
            for word in words_of(answer):
                self.words[word] += sign
                if self.words[word] <= 0:
                    del self.words[word]


@dataclass(frozen=True)
class Score:
    user_id: str
    name: str
    correct: int
    answered: int
    rank: int = 0


def to_ballot(answer: Answer) -> e.PollBallot:
    return list(answer) if isinstance(answer, tuple) else answer


def from_ballot(answer: e.PollBallot) -> Answer:
    return tuple(answer) if isinstance(answer, list) else answer


@dataclass
class Polls:
    polls: dict[str, Poll] = field(default_factory=dict)
    """Creation order is the order clients list them in."""

    # -- queries ---------------------------------------------------------

    def get(self, poll_id: str) -> Poll:
        return scoped.find(self.polls, "poll", poll_id)

    def seen_by(self, actor: Member, poll_id: str) -> Poll:
        """The poll, if `actor` may see it: a hidden poll is as good as unknown."""
        return scoped.find_seen(self.polls, "poll", poll_id, actor)

    def visible(self, role: Role, room: str) -> list[Poll]:
        return scoped.visible(self.polls, role, room)

    def scored(self) -> list[Poll]:
        """The quiz questions a leaderboard counts: closed ones, never anonymous ones."""
        return [
            p
            for p in self.polls.values()
            if p.quiz and not p.anonymous and p.status in ("closed", "published")
        ]

    def leaderboard(self, members: dict[str, Member]) -> list[Score]:
        """Scores over `scored()` quizzes, most correct answers first; ties share a rank."""
        tallies: dict[str, list[int]] = {}
        for poll in self.scored():
            for voter, ballot in poll.ballots.items():
                score = tallies.setdefault(voter, [0, 0])
                score[0] += poll.is_correct(ballot.answer)
                score[1] += 1
        rows = sorted(
            (
                Score(uid, members[uid].name if uid in members else uid, right, done)
                for uid, (right, done) in tallies.items()
            ),
            key=lambda s: (-s.correct, s.answered, s.name, s.user_id),
        )
        ranked: list[Score] = []
        for i, row in enumerate(rows):
            tied = ranked and ranked[-1].correct == row.correct
            rank = ranked[-1].rank if tied else i + 1
            ranked.append(Score(row.user_id, row.name, row.correct, row.answered, rank))
        return ranked

    # -- commands --------------------------------------------------------

    def create(self, actor: Member, cmd: c.PollCreate, ctx: Context) -> list[e.Event]:
        if len(self.polls) >= MAX_POLLS:
            raise DomainError("conflict", f"a class holds at most {MAX_POLLS} polls")
        question = " ".join(cmd.question.split())
        if not question:
            raise bad("the question is empty")
        options = _options(cmd)
        low, high = _scale(cmd)
        return [
            e.PollCreated(
                actor=actor.user_id,
                poll_id=ctx.new_id(),
                room=actor.room,
                question=question,
                kind=cmd.kind,
                options=options,
                anonymous=cmd.anonymous,
                correct=_correct(cmd, options),
                min=low,
                max=high,
                duration_s=cmd.duration_s,
            )
        ]

    def open(self, actor: Member, cmd: c.PollOpen, ctx: Context) -> list[e.Event]:
        poll = self.get(cmd.poll_id)
        if poll.status != "draft":
            raise DomainError("conflict", f"the poll is already {poll.status}")
        ends_at = ctx.now + poll.duration_s * 1000 if poll.duration_s else None
        rating = poll.kind == "rating"
        return [
            e.PollOpened(
                actor=actor.user_id,
                poll_id=poll.id,
                room=poll.room,
                question=poll.question,
                kind=poll.kind,
                options=list(poll.options),
                anonymous=poll.anonymous,
                quiz=poll.quiz,
                min=poll.min if rating else None,
                max=poll.max if rating else None,
                duration_s=poll.duration_s,
                ends_at=ends_at,
            )
        ]

    def vote(self, actor: Member, cmd: c.PollVote) -> list[e.Event]:
        poll = self.seen_by(actor, cmd.poll_id)
        if poll.status != "open":
            raise DomainError("conflict", f"the poll is {poll.status}, not open")
        answer = poll.check(cmd.answer)
        previous = poll.ballots.get(actor.user_id)
        if previous is not None and previous.answer == answer:
            return []  # a resent or duplicate ballot changes nothing
        return [
            e.PollVoted(
                actor=actor.user_id,
                poll_id=poll.id,
                room=poll.room,
                voter=actor.user_id,
                answer=to_ballot(answer),
            )
        ]

    def close(self, actor: Member, cmd: c.PollClose) -> list[e.Event]:
        poll = self.get(cmd.poll_id)
        if poll.status != "open":
            raise DomainError("conflict", f"the poll is {poll.status}, not open")
        return [self._closed(poll, actor.user_id, "host")]

    def expire(self, poll_id: str, now: int) -> list[e.Event]:
        """The server closes a poll whose `duration_s` ran out (nothing if it is not due)."""
        poll = self.polls.get(poll_id)
        if poll is None or poll.status != "open" or poll.ends_at is None or now < poll.ends_at:
            return []
        return [self._closed(poll, "", "timer")]

    def _closed(self, poll: Poll, actor: str, reason: Literal["host", "timer"]) -> e.Event:
        results = poll.results() if poll.shown else None
        return e.PollClosed(
            actor=actor, poll_id=poll.id, room=poll.room, reason=reason, results=results
        )

    def show_results(self, actor: Member, cmd: c.PollShowResults) -> list[e.Event]:
        poll = self.get(cmd.poll_id)
        if poll.status not in ("open", "closed"):
            raise DomainError("conflict", f"the poll is {poll.status}")
        if poll.shown == cmd.show:
            return []
        return [
            e.PollResultsShown(
                actor=actor.user_id,
                poll_id=poll.id,
                room=poll.room,
                shown=cmd.show,
                results=poll.results() if cmd.show else None,
            )
        ]

    def publish(self, actor: Member, cmd: c.PollPublish) -> list[e.Event]:
        poll = self.get(cmd.poll_id)
        if poll.status != "closed":
            raise DomainError("conflict", f"the poll is {poll.status}; close it to publish")
        correct = list(poll.correct) if poll.correct is not None else None
        out: list[e.Event] = [
            e.PollPublished(
                actor=actor.user_id,
                poll_id=poll.id,
                room=poll.room,
                results=poll.results(),
                correct=correct,
            )
        ]
        if poll.quiz:
            out.extend(
                e.PollGraded(
                    actor=actor.user_id,
                    poll_id=poll.id,
                    room=poll.room,
                    user_id=voter,
                    answer=to_ballot(ballot.answer),
                    correct=poll.is_correct(ballot.answer),
                )
                for voter, ballot in poll.ballots.items()
            )
        return out

    # -- events ----------------------------------------------------------

    def apply(self, ev: e.Event) -> None:
        match ev:
            case e.PollCreated():
                self.polls[ev.poll_id] = poll_of(ev)
            case e.PollOpened():
                poll = self.polls[ev.poll_id]
                poll.status, poll.ends_at = "open", ev.ends_at
            case e.PollVoted():
                self._apply_vote(ev)
            case e.PollResultsShown():
                self.polls[ev.poll_id].shown = ev.shown
            case e.PollClosed():
                self.polls[ev.poll_id].status = "closed"
            case e.PollPublished():
                poll = self.polls[ev.poll_id]
                poll.status, poll.shown = "published", True

    def _apply_vote(self, ev: e.PollVoted) -> None:
        self.polls[ev.poll_id].cast(ev.voter, ev.answer, ev.ts)


def poll_of(ev: e.PollCreated) -> Poll:
    """A new poll as its creation event defines it (tallies at zero)."""
    poll = Poll(
        id=ev.poll_id,
        question=ev.question,
        kind=ev.kind,
        room=ev.room,
        options=list(ev.options),
        anonymous=ev.anonymous,
        correct=tuple(ev.correct) if ev.correct is not None else None,
        duration_s=ev.duration_s,
        created_ts=ev.ts,
    )
    if ev.kind == "rating":
        poll.min, poll.max = (
            ev.min if ev.min is not None else 1,
            ev.max if ev.max is not None else 5,
        )
        poll.counts = [0] * (poll.max - poll.min + 1)
    elif ev.kind != "text":
        poll.counts = [0] * len(poll.options)
    return poll


def _options(cmd: c.PollCreate) -> list[str]:
    given = [" ".join(o.split()) for o in cmd.options or []]
    if cmd.kind in ("rating", "text"):
        if given:
            raise bad(f"{cmd.kind} polls take no options")
        return []
    if cmd.kind == "truefalse" and not given:
        return list(TRUEFALSE)
    wanted = 2 if cmd.kind == "truefalse" else None
    if (wanted is not None and len(given) != wanted) or len(given) < 2:
        raise bad("true/false polls take two options" if wanted else "give at least two options")
    if not all(given):
        raise bad("an option is empty")
    if len({o.casefold() for o in given}) != len(given):
        raise bad("two options are the same")
    return given


def _scale(cmd: c.PollCreate) -> tuple[int | None, int | None]:
    if cmd.kind != "rating":
        if cmd.min is not None or cmd.max is not None:
            raise bad("only rating polls take min and max")
        return None, None
    low = cmd.min if cmd.min is not None else 1
    high = cmd.max if cmd.max is not None else 5
    if not low < high <= low + RATING_SPAN_MAX:
        raise bad(f"a rating scale needs min < max, at most {RATING_SPAN_MAX} steps apart")
    return low, high


def _correct(cmd: c.PollCreate, options: list[str]) -> list[int] | None:
    if cmd.correct is None:
        return None
    if cmd.kind not in CHOICE_KINDS:
        raise bad("only choice polls can be quiz questions")
    picked = sorted(set(cmd.correct))
    if len(picked) != len(cmd.correct) or picked[-1] >= len(options):
        raise bad("correct names each existing option at most once")
    if cmd.kind != "multiple" and len(picked) != 1:
        raise bad("a single-answer quiz has exactly one correct option")
    return picked


# -- command handlers -------------------------------------------------------


@handles(c.PollCreate)
def _create(room: Classroom, actor: Member, cmd: c.PollCreate, ctx: Context) -> list[e.Event]:
    return room.polls.create(actor, cmd, ctx)


@handles(c.PollOpen)
def _open(room: Classroom, actor: Member, cmd: c.PollOpen, ctx: Context) -> list[e.Event]:
    return room.polls.open(actor, cmd, ctx)


@handles(c.PollVote)
def _vote(room: Classroom, actor: Member, cmd: c.PollVote, ctx: Context) -> list[e.Event]:
    return room.polls.vote(actor, cmd)


@handles(c.PollClose)
def _close(room: Classroom, actor: Member, cmd: c.PollClose, ctx: Context) -> list[e.Event]:
    return room.polls.close(actor, cmd)


@handles(c.PollShowResults)
def _show(room: Classroom, actor: Member, cmd: c.PollShowResults, ctx: Context) -> list[e.Event]:
    return room.polls.show_results(actor, cmd)


@handles(c.PollPublish)
def _publish(room: Classroom, actor: Member, cmd: c.PollPublish, ctx: Context) -> list[e.Event]:
    return room.polls.publish(actor, cmd)
