"""The class aggregate: one object per live class, fed only by events.

`handle` turns a command into events without changing anything; `apply`
folds an event into the state. The state of a class is the fold of `apply`
over its journal, so a restarted server rebuilds it by replaying the journal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from classroom import commands as c
from classroom import events as e
from classroom import polls_queries  # noqa: F401  (registers the poll queries)
from classroom.board import Boards
from classroom.breakouts import Breakouts, land
from classroom.dispatch import HANDLERS, QUERIES, handles
from classroom.errors import DomainError
from classroom.live import Context, Live, Member
from classroom.media_state import MediaState
from classroom.polls import Polls
from classroom.qa import QA
from classroom.recording import Recording
from classroom.roles import Role, require
from classroom.slides import Slides


class Classroom:
    def __init__(self) -> None:
        self.seq = 0
        self.live = Live()
        self.media = MediaState()
        self.breakouts = Breakouts()
        self.polls = Polls()
        self.qa = QA()
        self.recording = Recording()
        self.slides = Slides()
        self.boards = Boards()

    @classmethod
    def replay(cls, history: Iterable[e.Event]) -> Classroom:
        room = cls()
        for ev in history:
            room.apply(ev)
        return room

    @property
    def class_id(self) -> str:
        return self.live.class_id

    @property
    def ended(self) -> bool:
        return self.live.ended

    def create(self, class_id: str, title: str, media: e.MediaMode) -> list[e.Event]:
        if self.seq:
            raise DomainError("conflict", "the class already exists")
        return [e.ClassCreated(class_id=class_id, title=title, media=media)]

    def join(self, user_id: str, name: str, role: Role) -> list[e.Event]:
        self._refuse_if_ended()
        return land(self.breakouts, self.live, self.live.join(user_id, name, role))

    def leave(self, user_id: str, reason: str) -> list[e.Event]:
        left = self.live.leave(user_id, reason)
        return self.media.leave(self.live, user_id) + left if left else []

    def leave_everyone(self, reason: str) -> list[e.Event]:
        return [ev for m in self.live.present() for ev in self.leave(m.user_id, reason)]

    def end(self, actor_id: str) -> list[e.Event]:
        """Ending the class, by a host in it or from outside (the REST API; `actor_id` may
        name an organizer, or be empty for the admin): a recording going on stops first."""
        self._refuse_if_ended()
        stop = (
            self.recording.stop(actor_id, "class ended") if self.recording.state != "idle" else []
        )
        return [*stop, e.ClassEnded(actor=actor_id)]

    def recover(self) -> list[e.Event]:
        """After a restart or failover: nobody is connected, and media capture has stopped.

        A recording cut short this way is stopped (and then published as far as
        it got); the host may start a new one.
        """
        reason = "server restarted"
        stop = self.recording.stop("", reason) if self.recording.state != "idle" else []
        return self.leave_everyone(reason) + stop

    def admit(self, user_id: str, cmd: c.Command) -> Member:
        """The gate every command passes, whoever serves it: the class is live, the
        sender is present, and their role (or what the class granted them: presenting,
        drawing) allows the command's action."""
        actor = self.present(user_id)
        require(actor.role, cmd.action, self.slides.granted(user_id))
        return actor

    def present(self, user_id: str) -> Member:
        """The member, if the class is live and they are in it."""
        self._refuse_if_ended()
        actor = self.live.members.get(user_id)
        if actor is None or not actor.present:
            raise DomainError("forbidden", "join the class first")
        return actor

    def handle(self, user_id: str, cmd: c.Command, ctx: Context) -> list[e.Event]:
        """The events a command makes (nothing changes until they are applied)."""
        actor = self.admit(user_id, cmd)
        handler = HANDLERS.get(type(cmd))
        if handler is None:
            raise DomainError("bad_request", f"no handler for {type(cmd).__name__}")
        return handler(self, actor, cmd, ctx)

    def ask(self, user_id: str, cmd: c.Command) -> dict[str, Any]:
        """A query's answer: like a command, but it returns a value and makes no events."""
        actor = self.admit(user_id, cmd)
        query = QUERIES.get(type(cmd))
        if query is None:
            raise DomainError("bad_request", f"{type(cmd).__name__} is not a query")
        return query(self, actor, cmd)

    @staticmethod
    def is_query(cmd: c.Command) -> bool:
        return type(cmd) in QUERIES

    def commit(self, drafts: list[e.Event], ts: int) -> list[e.Event]:
        """Number the drafts after the last event, stamp them with `ts`, apply them, and
        return them: the one way drafts become the class's events."""
        stamped = e.stamp_after(drafts, self.seq, ts)
        for ev in stamped:
            self.apply(ev)
        return stamped

    def apply(self, ev: e.Event) -> None:
        # A hole means an event is missing, and the state after it would be a
        # guess (a vote for a poll never created): refuse rather than rebuild wrong.
        if ev.seq != self.seq + 1:
            raise ValueError(f"event seq {ev.seq} does not follow {self.seq}")
        self.seq = ev.seq
        self.live.apply(ev)
        self.media.apply(ev)
        self.recording.apply(ev)
        self.breakouts.apply(ev, self.live)
        self.polls.apply(ev)
        self.qa.apply(ev)
        self.slides.apply(ev)
        self.boards.apply(ev)

    def _refuse_if_ended(self) -> None:
        if self.live.ended:
            raise DomainError("conflict", "the class has ended")


@handles(c.ChatSend)
def _chat(room: Classroom, actor: Member, cmd: c.ChatSend, ctx: Context) -> list[e.Event]:
    return room.live.chat_send(actor, cmd, ctx)


@handles(c.HandRaise)
def _hand_raise(room: Classroom, actor: Member, cmd: c.HandRaise, ctx: Context) -> list[e.Event]:
    return room.live.hand_raise(actor)


@handles(c.HandLower)
def _hand_lower(room: Classroom, actor: Member, cmd: c.HandLower, ctx: Context) -> list[e.Event]:
    return room.live.hand_lower(actor, cmd)


@handles(c.ReactionSend)
def _react(room: Classroom, actor: Member, cmd: c.ReactionSend, ctx: Context) -> list[e.Event]:
    return room.live.react(actor, cmd)


@handles(c.RoleSet)
def _role_set(room: Classroom, actor: Member, cmd: c.RoleSet, ctx: Context) -> list[e.Event]:
    return room.live.set_role(actor, cmd)


@handles(c.ClassEnd)
def _end(room: Classroom, actor: Member, cmd: c.ClassEnd, ctx: Context) -> list[e.Event]:
    return room.end(actor.user_id)
