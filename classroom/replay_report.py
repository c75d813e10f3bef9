"""What a recording's stream says about its viewers: a report and a digest for its hosts.

Pure functions of a folded stream (`Replay`). `RecordingFold` keeps what the
report needs (the stream's state and each viewer's rewatches by bucket) and
takes events as they come, so a report of a busy recording is made without
reading its journal again. The report lists each viewer
with what they watched (the union of their spans, so a stretch watched twice
counts once, and its share of the recording), their visits, and their part
in the async cohort; each recorded poll with the async cohort's
participation and results beside the class's; and the coverage chart of
the recording's length (classroom/replay_coverage.py). The digest is what
happened since a moment: the new questions, replies and answers, and the
ballots cast since.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from classroom import replay_events as r
from classroom import spans
from classroom.events import Event, PollKind, PollResults
from classroom.replay import RecordedPoll, Recording, Replay
from classroom.replay_coverage import Coverage, Rewatches, coverage

SINGLE_PICK = ("single", "truefalse")
"""Poll kinds whose tally counts each right ballot once at the right option."""


class ViewerRow(msgspec.Struct):
    user_id: str
    name: str
    role: str
    visits: int
    first_seen: int
    last_seen: int
    position_ms: int
    watched_ms: int
    coverage: float
    """The share of the recording watched, 0 to 1."""
    polls_answered: int
    quiz_correct: int
    questions: int
    """Questions asked under their name (anonymous ones are nobody's)."""


class PollRow(msgspec.Struct):
    poll_id: str
    question: str
    at_ms: int
    quiz: bool
    live_voters: int
    async_voters: int
    async_correct: int | None
    """Async ballots that are right, for a quiz question published in class."""
    kind: PollKind
    options: list[str]
    min: int | None
    """Rating polls: the scale's first value (the tallies count from it)."""
    anonymous: bool
    correct: list[int] | None
    """The right options, for a quiz question published in class."""
    live_correct: int | None
    """Live ballots that are right, when the tally tells (a key, one pick per ballot)."""
    live_results: PollResults | None
    """The class's final tally (None when the package has none)."""
    async_results: PollResults
    """The replay's cohort's tally, counted the same way."""


class RecordingReport(msgspec.Struct):
    recording_id: str
    title: str
    duration_ms: int
    viewers: list[ViewerRow]
    polls: list[PollRow]
    questions: int
    answered: int
    coverage: Coverage
    """Learners along the recording's length."""
    anonymous_views: int = 0
    """Views by share-link guests, who watch without a name: counted apart, never named."""


class RecordingFold:
    """Everything a recording's report needs, folded event by event: the stream's state
    and each viewer's rewatches (at most MAX_BUCKETS figures a viewer)."""

    def __init__(self, recording: Recording) -> None:
        self.stream = Replay(recording)
        self.rewatches = Rewatches(recording.duration_ms)
        self.happenings = Happenings()

    @classmethod
    def of(cls, recording: Recording, history: Iterable[Event]) -> RecordingFold:
        fold = cls(recording)
        for ev in history:
            fold.apply(ev)
        return fold

    @property
    def seq(self) -> int:
        return self.stream.seq

    def apply(self, ev: Event) -> None:
        """Fold the next event; raises ValueError if it does not follow the last one."""
        self.stream.apply(ev)
        self.rewatches.note(ev)
        self.happenings.note(ev)

    def report(self) -> RecordingReport:
        return _report(self.stream, self.rewatches)


def report(stream: Replay, history: list[Event]) -> RecordingReport:
    """The report of `stream`, whose events are `history` (for the rewatches)."""
    rewatches = Rewatches(stream.duration_ms)
    for ev in history:
        rewatches.note(ev)
    return _report(stream, rewatches)


def _report(stream: Replay, rewatches: Rewatches) -> RecordingReport:
    duration = stream.duration_ms
    asked: dict[str, int] = {}
    for thread in stream.questions.values():
        author = thread.question.author_id
        if author is not None:
            asked[author] = asked.get(author, 0) + 1
    viewers = []
    for v in stream.viewers.values():
        ballots = [
            (p, p.ballots[v.user_id]) for p in stream.polls.values() if v.user_id in p.ballots
        ]
        watched = spans.total(v.watched)
        viewers.append(
            ViewerRow(
                user_id=v.user_id,
                name=v.name,
                role=v.role,
                visits=v.visits,
                first_seen=v.first_seen,
                last_seen=v.last_seen,
                position_ms=v.position_ms,
                watched_ms=watched,
                coverage=round(watched / duration, 4) if duration else 0.0,
                polls_answered=len(ballots),
                quiz_correct=sum(p.is_correct(b.answer) for p, b in ballots),
                questions=asked.get(v.user_id, 0),
            )
        )
    return RecordingReport(
        recording_id=stream.recording.recording_id,
        title=stream.recording.title,
        duration_ms=duration,
        viewers=viewers,
        polls=[_poll_row(stream, poll_id) for poll_id in stream.recorded],
        questions=len(stream.questions),
        answered=sum(t.question.status == "answered" for t in stream.questions.values()),
        coverage=coverage(stream, rewatches),
        anonymous_views=stream.anonymous_views,
    )


def _poll_row(stream: Replay, poll_id: str) -> PollRow:
    recorded, cohort = stream.recorded[poll_id], stream.polls[poll_id]
    keyed = recorded.correct is not None
    return PollRow(
        poll_id=poll_id,
        question=recorded.question,
        at_ms=recorded.at_ms,
        quiz=recorded.quiz,
        live_voters=recorded.live.voters if recorded.live is not None else 0,
        async_voters=len(cohort.ballots),
        async_correct=sum(cohort.is_correct(b.answer) for b in cohort.ballots.values())
        if keyed
        else None,
        kind=recorded.kind,
        options=list(recorded.options),
        min=recorded.min,
        anonymous=recorded.anonymous,
        correct=recorded.correct,
        live_correct=_live_correct(recorded),
        live_results=recorded.live,
        async_results=cohort.results(),
    )


def _live_correct(recorded: RecordedPoll) -> int | None:
    live, key = recorded.live, recorded.correct
    if live is None or key is None or recorded.kind not in SINGLE_PICK or len(key) != 1:
        return None
    return live.counts[key[0]] if key[0] < len(live.counts) else 0


class DigestQuestion(msgspec.Struct):
    id: str
    text: str
    at_ms: int
    status: str
    votes: int
    replies: int
    answered: bool
    new: bool
    """Asked since; else replied to or answered since."""


class Digest(msgspec.Struct):
    recording_id: str
    title: str
    since: int
    until: int
    viewers: int
    """People who opened the replay since (with a name)."""
    anonymous_views: int
    """Views by guests without a name since: a count only."""
    ballots: int
    questions: list[DigestQuestion]
    waiting: int
    """Questions still waiting for an answer, all told."""


class Happenings:
    """What a digest counts, one small tuple per event that counts (visits, guests' views,
    ballots, question events; progress reports, the bulk of a stream, are not kept):
    (ts, kind, user or question id)."""

    def __init__(self) -> None:
        self.noted: list[tuple[int, str, str]] = []

    def note(self, ev: Event) -> None:
        match ev:
            case r.AsyncAsked():
                self.noted.append((ev.ts, "asked", ev.question.id))
            case r.AsyncQuestionEvent():
                self.noted.append((ev.ts, "touched", ev.question.id))
            case r.ViewerVisited():
                self.noted.append((ev.ts, "visited", ev.user_id))
            case r.GuestWatched():
                self.noted.append((ev.ts, "guest", ""))
            case r.AsyncVoted():
                self.noted.append((ev.ts, "voted", ""))

    def since(self, ts: int, kind: str) -> list[str]:
        return [key for at, noted, key in self.noted if at > ts and noted == kind]


def digest(stream: Replay, happened: Happenings, since: int, until: int) -> Digest:
    """What happened in the stream from `since` (epoch ms) on."""
    new = set(happened.since(since, "asked"))
    touched = new | set(happened.since(since, "touched"))
    questions = [
        DigestQuestion(
            id=q.id,
            text=q.text,
            at_ms=q.at_ms,
            status=q.status,
            votes=q.votes,
            replies=len(q.replies),
            answered=q.answer is not None,
            new=q.id in new,
        )
        for q in (t.question for t in stream.questions.values())
        if q.id in touched
    ]
    return Digest(
        recording_id=stream.recording.recording_id,
        title=stream.recording.title,
        since=since,
        until=until,
        viewers=len(set(happened.since(since, "visited"))),
        anonymous_views=len(happened.since(since, "guest")),
        ballots=len(happened.since(since, "voted")),
        questions=questions,
        waiting=sum(t.question.status == "open" for t in stream.questions.values()),
    )
