"""Questions and answers: ask, upvote, moderate, pin, answer.

A question belongs to the room its author was in. Participants see the open
and answered questions of their room; hosts and moderators see every
question, pending and dismissed ones included. With moderation on, a
participant's question waits (`pending`) until a host or moderator approves
it; questions already pending stay pending when moderation is turned off.

Anonymous questions are recorded without an author at all (the event's
`actor` is empty too), so no view, export or journal entry can name who asked.

Lists are in asking order (oldest first), a stable order clients re-sort by
votes or time. Each room has at most one pinned question (the one being
answered now); pinning another unpins it, answering or dismissing unpins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from classroom import commands as c
from classroom import events as e
from classroom import scoped
from classroom.dispatch import handles
from classroom.errors import DomainError
from classroom.live import Context, Member
from classroom.roles import Role, is_staff

if TYPE_CHECKING:
    from classroom.aggregate import Classroom

MAX_QUESTIONS = 2000
"""Questions per class, bounded for memory; the rate limiter paces each asker."""

SEEN = frozenset({"open", "answered"})
"""Statuses participants see."""


@dataclass
class Question:
    id: str
    text: str
    room: str
    asked_at: int
    status: e.QuestionStatus
    author_id: str | None = None
    author_name: str | None = None
    pinned: bool = False
    answer: str | None = None
    voters: set[str] = field(default_factory=set)

    def visible_to(self, role: Role, room: str) -> bool:
        return is_staff(role) or (self.room == room and self.status in SEEN)

    def view(self) -> e.QuestionView:
        return e.QuestionView(
            id=self.id,
            text=self.text,
            author_id=self.author_id,
            author_name=self.author_name,
            room=self.room,
            votes=len(self.voters),
            status=self.status,
            pinned=self.pinned,
            answer=self.answer,
            asked_at=self.asked_at,
        )

    def changed(self, **changes: Any) -> e.QuestionView:
        """The view a change would leave, for the event that records it."""
        return msgspec.structs.replace(self.view(), **changes)


@dataclass
class QA:
    moderation: bool = False
    questions: dict[str, Question] = field(default_factory=dict)
    """Asking order."""
    pinned: dict[str, str] = field(default_factory=dict)
    """room -> id of its pinned question."""

    # -- queries ---------------------------------------------------------

    def get(self, question_id: str) -> Question:
        return scoped.find(self.questions, "question", question_id)

    def seen_by(self, actor: Member, question_id: str) -> Question:
        """The question, if `actor` may see it: a hidden question is as good as unknown."""
        return scoped.find_seen(self.questions, "question", question_id, actor)

    def visible(self, role: Role, room: str) -> list[Question]:
        return scoped.visible(self.questions, role, room)

    # -- commands --------------------------------------------------------

    def ask(self, actor: Member, cmd: c.QaAsk, ctx: Context) -> list[e.Event]:
        if len(self.questions) >= MAX_QUESTIONS:
            raise DomainError("conflict", f"a class holds at most {MAX_QUESTIONS} questions")
        text = " ".join(cmd.text.split())
        if not text:
            raise DomainError("bad_request", "the question is empty")
        waits = self.moderation and not is_staff(actor.role)
        view = e.QuestionView(
            id=ctx.new_id(),
            text=text,
            author_id=None if cmd.anonymous else actor.user_id,
            author_name=None if cmd.anonymous else actor.name,
            room=actor.room,
            status="pending" if waits else "open",
            asked_at=ctx.now,
        )
        who = "" if cmd.anonymous else actor.user_id
        return [e.QuestionAsked(actor=who, question=view, public=not waits)]

    def upvote(self, actor: Member, cmd: c.QaUpvote) -> list[e.Event]:
        return self._vote(actor, cmd.question_id, True)

    def unvote(self, actor: Member, cmd: c.QaUnvote) -> list[e.Event]:
        return self._vote(actor, cmd.question_id, False)

    def _vote(self, actor: Member, question_id: str, up: bool) -> list[e.Event]:
        question = self.seen_by(actor, question_id)
        if question.status not in SEEN:
            raise DomainError("conflict", f"the question is {question.status}")
        if (actor.user_id in question.voters) == up:
            return []  # one vote per person: a repeat changes nothing
        return [
            e.QuestionVoted(
                actor=actor.user_id, question_id=question.id, user_id=actor.user_id, up=up
            )
        ]

    def approve(self, actor: Member, cmd: c.QaApprove) -> list[e.Event]:
        question = self.get(cmd.question_id)
        if question.status != "pending":
            raise DomainError("conflict", f"the question is {question.status}, not pending")
        return [e.QuestionApproved(actor=actor.user_id, question=question.changed(status="open"))]

    def dismiss(self, actor: Member, cmd: c.QaDismiss) -> list[e.Event]:
        question = self.get(cmd.question_id)
        if question.status == "dismissed":
            raise DomainError("conflict", "the question is already dismissed")
        view = question.changed(status="dismissed", pinned=False)
        public = question.status != "pending"
        return [e.QuestionDismissed(actor=actor.user_id, question=view, public=public)]

    def pin(self, actor: Member, cmd: c.QaPin) -> list[e.Event]:
        question = self.get(cmd.question_id)
        if question.pinned == cmd.pinned:
            return []
        if cmd.pinned and question.status not in SEEN:
            raise DomainError("conflict", f"the question is {question.status}; it cannot be pinned")
        out: list[e.Event] = []
        current = self.pinned.get(question.room)
        if cmd.pinned and current is not None:
            before = self.questions[current]
            out.append(e.QuestionPinned(actor=actor.user_id, question=before.changed(pinned=False)))
        out.append(
            e.QuestionPinned(actor=actor.user_id, question=question.changed(pinned=cmd.pinned))
        )
        return out

    def answer(self, actor: Member, cmd: c.QaAnswer) -> list[e.Event]:
        question = self.get(cmd.question_id)
        if question.status == "dismissed":
            raise DomainError("conflict", "the question is dismissed")
        text = " ".join(cmd.text.split()) if cmd.text is not None else ""
        answer = text or question.answer
        view = question.changed(status="answered", pinned=False, answer=answer)
        return [e.QuestionAnswered(actor=actor.user_id, question=view)]

    def set_moderation(self, actor: Member, cmd: c.QaModeration) -> list[e.Event]:
        if self.moderation == cmd.on:
            return []
        return [e.QaModerationSet(actor=actor.user_id, on=cmd.on)]

    # -- events ----------------------------------------------------------

    def apply(self, ev: e.Event) -> None:
        match ev:
            case e.QuestionAsked():
                view = ev.question
                self.questions[view.id] = Question(
                    id=view.id,
                    text=view.text,
                    room=view.room,
                    asked_at=view.asked_at,
                    status=view.status,
                    author_id=view.author_id,
                    author_name=view.author_name,
                )
            case e.QuestionEvent():
                self._apply_change(ev.question)
            case e.QuestionVoted():
                voters = self.questions[ev.question_id].voters
                if ev.up:
                    voters.add(ev.user_id)
                else:
                    voters.discard(ev.user_id)
            case e.QaModerationSet():
                self.moderation = ev.on

    def _apply_change(self, view: e.QuestionView) -> None:
        """Approve, dismiss, pin and answer change status, pin and answer only."""
        question = self.questions[view.id]
        question.status, question.answer = view.status, view.answer
        question.pinned = view.pinned
        if view.pinned:
            self.pinned[question.room] = question.id
        elif self.pinned.get(question.room) == question.id:
            del self.pinned[question.room]


# -- command handlers -------------------------------------------------------


@handles(c.QaAsk)
def _ask(room: Classroom, actor: Member, cmd: c.QaAsk, ctx: Context) -> list[e.Event]:
    return room.qa.ask(actor, cmd, ctx)


@handles(c.QaUpvote)
def _upvote(room: Classroom, actor: Member, cmd: c.QaUpvote, ctx: Context) -> list[e.Event]:
    return room.qa.upvote(actor, cmd)


@handles(c.QaUnvote)
def _unvote(room: Classroom, actor: Member, cmd: c.QaUnvote, ctx: Context) -> list[e.Event]:
    return room.qa.unvote(actor, cmd)


@handles(c.QaApprove)
def _approve(room: Classroom, actor: Member, cmd: c.QaApprove, ctx: Context) -> list[e.Event]:
    return room.qa.approve(actor, cmd)


@handles(c.QaDismiss)
def _dismiss(room: Classroom, actor: Member, cmd: c.QaDismiss, ctx: Context) -> list[e.Event]:
    return room.qa.dismiss(actor, cmd)


@handles(c.QaPin)
def _pin(room: Classroom, actor: Member, cmd: c.QaPin, ctx: Context) -> list[e.Event]:
    return room.qa.pin(actor, cmd)


@handles(c.QaAnswer)
def _answer(room: Classroom, actor: Member, cmd: c.QaAnswer, ctx: Context) -> list[e.Event]:
    return room.qa.answer(actor, cmd)


@handles(c.QaModeration)
def _moderation(room: Classroom, actor: Member, cmd: c.QaModeration, ctx: Context) -> list[e.Event]:
    return room.qa.set_moderation(actor, cmd)
