"""How polls look to clients: event payloads, results, the snapshot part, ack fields.

Nothing here names a voter: results are tallies, and a viewer's own ballot
(`yours`) is only ever put in that viewer's own snapshot.
"""

from __future__ import annotations

from typing import Any

from classroom import events as e
from classroom.polls import Poll, Polls, to_ballot
from classroom.roles import is_staff
from classroom.visibility import Viewer

Payload = dict[str, Any]

POLL_EVENTS = (
    e.PollCreated,
    e.PollOpened,
    e.PollVoted,
    e.PollResultsShown,
    e.PollClosed,
    e.PollPublished,
    e.PollGraded,
)


def results_view(results: e.PollResults) -> Payload:
    """`{counts, total, voters}`, plus `words` (text polls) or `mean` (rating polls)."""
    out: Payload = {"counts": results.counts, "total": results.total, "voters": results.voters}
    if results.kind == "text":
        out["words"] = [{"word": w, "count": n} for w, n in results.words]
    if results.kind == "rating":
        out["mean"] = results.mean
    return out


def live_results(poll: Poll, as_of: int, ts: int) -> Payload:
    """A `poll:results` message: the tallies as of class seq `as_of`.

    Not named `seq`: it is state, not a journal event, and clients drop
    journal events whose `seq` they already hold.
    """
    return {"poll_id": poll.id, "as_of": as_of, "ts": ts, **results_view(poll.results())}


def definition(ev: e.PollCreated | e.PollOpened, status: str) -> Payload:
    out: Payload = {
        "id": ev.poll_id,
        "question": ev.question,
        "kind": ev.kind,
        "options": list(ev.options),
        "anonymous": ev.anonymous,
        "room": ev.room,
        "duration_s": ev.duration_s,
        "status": status,
        "results_shown": False,
    }
    if ev.kind == "rating":
        out["min"], out["max"] = ev.min, ev.max
    return out


def poll_view(poll: Poll, viewer: Viewer) -> Payload:
    """One poll in `viewer`'s snapshot: results and answers only where they may see them."""
    out: Payload = {
        "id": poll.id,
        "question": poll.question,
        "kind": poll.kind,
        "options": list(poll.options),
        "anonymous": poll.anonymous,
        "room": poll.room,
        "duration_s": poll.duration_s,
        "status": poll.status,
        "results_shown": poll.shown,
        "quiz": poll.quiz,
        "ends_at": poll.ends_at,
    }
    if poll.kind == "rating":
        out["min"], out["max"] = poll.min, poll.max
    if poll.results_visible_to(viewer.role):
        out["results"] = results_view(poll.results())
    published = poll.status == "published"
    if poll.correct is not None and (published or is_staff(viewer.role)):
        out["correct"] = list(poll.correct)
    mine = poll.ballots.get(viewer.user_id)
    if mine is not None:
        yours: Payload = {"answer": to_ballot(mine.answer)}
        if published and poll.quiz:
            yours["correct"] = poll.is_correct(mine.answer)
        out["yours"] = yours
    return out


def polls_view(polls: Polls, viewer: Viewer) -> list[Payload]:
    """The polls `viewer` may see, in creation order."""
    return [poll_view(p, viewer) for p in polls.visible(viewer.role, viewer.room)]


def poll_wire(ev: e.Event, head: Payload) -> tuple[str, Payload] | None:
    match ev:
        case e.PollCreated():
            poll = definition(ev, "draft") | {"quiz": ev.correct is not None}
            if ev.correct is not None:
                poll["correct"] = list(ev.correct)
            return "poll:created", head | {"poll": poll}
        case e.PollOpened():
            poll = definition(ev, "open") | {"quiz": ev.quiz, "ends_at": ev.ends_at}
            return "poll:opened", head | {"poll": poll}
        case e.PollResultsShown():
            shown = head | {"poll_id": ev.poll_id, "shown": ev.shown}
            if ev.results is not None:
                shown["results"] = results_view(ev.results)
            return "poll:results_shown", shown
        case e.PollClosed():
            results = results_view(ev.results) if ev.results is not None else None
            closed = {"poll_id": ev.poll_id, "reason": ev.reason, "results": results}
            return "poll:closed", head | closed
        case e.PollPublished():
            published = head | {"poll_id": ev.poll_id, "results": results_view(ev.results)}
            if ev.correct is not None:
                published["correct"] = ev.correct
            return "poll:published", published
        case e.PollGraded():
            graded = {"poll_id": ev.poll_id, "answer": ev.answer, "correct": ev.correct}
            return "poll:feedback", head | graded
    return None  # a ballot is never sent as such


def created_reply(events: list[e.Event]) -> Payload:
    """The ack of `poll:create`: the new poll's id."""
    created = [ev.poll_id for ev in events if isinstance(ev, e.PollCreated)]
    return {"poll_id": created[0]} if created else {}
