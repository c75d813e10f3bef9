"""How questions look to clients: event payloads, the snapshot part, ack fields.

An anonymous question has `author: null` for everyone, hosts included: the
server never recorded its author.
"""

from __future__ import annotations

from typing import Any

from classroom import events as e
from classroom.qa import QA
from classroom.visibility import Viewer

Payload = dict[str, Any]

QA_EVENTS = (
    e.QuestionAsked,
    e.QuestionApproved,
    e.QuestionDismissed,
    e.QuestionPinned,
    e.QuestionAnswered,
    e.QuestionVoted,
    e.QaModerationSet,
)


def question_view(view: e.QuestionView) -> Payload:
    author = None
    if view.author_id is not None:
        author = {"user_id": view.author_id, "name": view.author_name}
    out: Payload = {
        "id": view.id,
        "text": view.text,
        "author": author,
        "votes": view.votes,
        "status": view.status,
        "pinned": view.pinned,
        "room": view.room,
        "asked_at": view.asked_at,
    }
    if view.answer is not None:
        out["answer"] = view.answer
    return out


def questions_view(qa: QA, viewer: Viewer) -> list[Payload]:
    """The questions `viewer` may see, in asking order, each with whether they upvoted it."""
    return [
        question_view(q.view()) | {"voted": viewer.user_id in q.voters}
        for q in qa.visible(viewer.role, viewer.room)
    ]


def votes_view(qa: QA, question_id: str, as_of: int, ts: int) -> Payload:
    """A `qa:votes` message: the question's count as of class seq `as_of` (state, not an event)."""
    votes = len(qa.questions[question_id].voters)
    return {"question_id": question_id, "votes": votes, "as_of": as_of, "ts": ts}


def qa_wire(ev: e.Event, head: Payload) -> tuple[str, Payload] | None:
    match ev:
        case e.QuestionAsked():
            return "qa:question", head | {"question": question_view(ev.question)}
        case e.QuestionEvent():
            return "qa:updated", head | {"question": question_view(ev.question)}
        case e.QaModerationSet():
            return "qa:moderation", head | {"on": ev.on}
    return None  # an upvote is never sent as such


def asked_reply(events: list[e.Event]) -> Payload:
    """The ack of `qa:ask`: the new question's id."""
    asked = [ev.question.id for ev in events if isinstance(ev, e.QuestionAsked)]
    return {"question_id": asked[0]} if asked else {}
