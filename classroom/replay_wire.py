"""How a recording's stream looks to clients: `replay:state`, event payloads, acks, tallies.

Outcomes of a recorded poll reach a learner only once they have voted on it:
the live cohort's final results beside the async cohort's, and, for a quiz
question the host published in class, the right options and whether the
learner's ballot is one of them. Hosts and moderators see both cohorts'
results of every poll. Nothing here names a voter: results are tallies, and
a learner's own ballot is only ever put in that learner's own state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from classroom import events as e
from classroom import replay_events as r
from classroom.polls import to_ballot
from classroom.polls_wire import results_view
from classroom.replay import RecordedPoll, Replay, Thread
from classroom.roles import ReplayRole, acting_role, is_staff

Payload = dict[str, Any]


@dataclass(frozen=True)
class Watcher:
    """Who a socket of the replay belongs to, as its token says."""

    user_id: str
    name: str
    role: ReplayRole
    guest: bool = False
    """Watching without a name (a share link, where the host allows it): sees, never acts."""

    @property
    def staff(self) -> bool:
        return is_staff(acting_role(self.role))


def state_view(stream: Replay, you: Watcher) -> Payload:
    """`replay:state`: the recording, you, your progress, its polls and the questions you see."""
    viewer = None if you.guest else stream.viewers.get(you.user_id)
    rec = stream.recording
    me: Payload = {"user_id": you.user_id, "name": you.name, "role": you.role}
    me |= {"guest": you.guest, "last_seen": viewer.previous_seen if viewer else None}
    progress: Payload = {"position_ms": 0, "watched": []}
    if viewer is not None:
        progress = {"position_ms": viewer.position_ms, "watched": [list(s) for s in viewer.watched]}
    return {
        "seq": stream.seq,
        "recording": {"id": rec.recording_id, "title": rec.title, "duration_ms": rec.duration_ms},
        "you": me,
        "progress": progress,
        "polls": [poll_view(stream, p, you) for p in sorted_polls(stream)],
        "questions": [
            question_view(t.question) | {"voted": you.user_id in t.voters}
            for t in stream.questions.values()
            if you.staff or not t.dismissed
        ],
    }


def sorted_polls(stream: Replay) -> list[RecordedPoll]:
    return sorted(stream.recorded.values(), key=lambda p: (p.at_ms, p.poll_id))


def poll_view(stream: Replay, recorded: RecordedPoll, you: Watcher) -> Payload:
    out: Payload = {
        "poll_id": recorded.poll_id,
        "at_ms": recorded.at_ms,
        "question": recorded.question,
        "kind": recorded.kind,
        "anonymous": recorded.anonymous,
        "quiz": recorded.quiz,
    }
    if recorded.options:
        out["options"] = list(recorded.options)
    if recorded.kind == "rating":
        out["min"], out["max"] = recorded.min, recorded.max
    mine = stream.polls[recorded.poll_id].ballots.get(you.user_id)
    if mine is not None:
        out["your_answer"] = to_ballot(mine.answer)
    if mine is not None or you.staff:
        out |= outcome(stream, recorded.poll_id, you.user_id)
    return out


def outcome(stream: Replay, poll_id: str, user_id: str) -> Payload:
    """What a learner sees of a poll once they voted (the ack of `replay:vote`): both cohorts'
    results and, for a quiz question published in class, the right options."""
    recorded = stream.recorded[poll_id]
    cohort = stream.polls[poll_id]
    live = recorded.live if recorded.live is not None else e.PollResults(kind=recorded.kind)
    both = {"live": results_view(live), "async": results_view(cohort.results())}
    out: Payload = {"results": both}
    if recorded.correct is not None:
        out["correct"] = list(recorded.correct)
        mine = cohort.ballots.get(user_id)
        if mine is not None:
            out["right"] = cohort.is_correct(mine.answer)
    return out


def async_results(stream: Replay, poll_id: str, ts: int) -> Payload:
    """A `replay:results` message: the async cohort's tally as of stream seq `as_of`."""
    results = results_view(stream.polls[poll_id].results())
    return {"poll_id": poll_id, "async": results, "as_of": stream.seq, "ts": ts}


def votes_view(thread: Thread, as_of: int, ts: int) -> Payload:
    """A `replay:votes` message: a question's upvotes as of stream seq `as_of`."""
    votes = len(thread.voters)
    return {"question_id": thread.question.id, "votes": votes, "as_of": as_of, "ts": ts}


def question_view(q: r.AsyncQuestion) -> Payload:
    author = None if q.author_id is None else {"user_id": q.author_id, "name": q.author_name}
    out: Payload = {
        "id": q.id,
        "text": q.text,
        "at_ms": q.at_ms,
        "author": author,
        "votes": q.votes,
        "replies": [
            {
                "id": reply.id,
                "text": reply.text,
                "author": {"user_id": reply.user_id, "name": reply.name},
                "staff": reply.staff,
                "ts": reply.ts,
            }
            for reply in q.replies
        ],
        "status": q.status,
        "asked_at": q.asked_at,
    }
    if q.answer is not None:
        out |= {"answer": q.answer, "answered_by": q.answered_by, "answered_at": q.answered_at}
    return out


def to_wire(ev: e.Event) -> tuple[str, Payload] | None:
    """The client-facing name and payload of a stream event, or None if nobody gets it."""
    head: Payload = {"seq": ev.seq, "ts": ev.ts}
    match ev:
        case r.AsyncAsked():
            return "replay:question", head | {"question": question_view(ev.question)}
        case r.AsyncQuestionEvent():
            return "replay:updated", head | {"question": question_view(ev.question)}
    return None  # ballots, upvotes, visits and progress are never sent as such


def asked_reply(events: list[e.Event]) -> Payload:
    """The ack of `replay:ask`: the new question's id."""
    asked = [ev.question.id for ev in events if isinstance(ev, r.AsyncAsked)]
    return {"question_id": asked[0]} if asked else {}
