"""The live part of a class: who is here, chat, raised hands, reactions."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from classroom import commands as c
from classroom import events as e
from classroom.errors import DomainError
from classroom.roles import Action, Role, allowed

CHAT_HISTORY = 300


@dataclass(frozen=True)
class Context:
    """What a command may depend on besides the state: time and fresh ids."""

    now: int
    new_id: Callable[[], str]
    rng: random.Random | None = None
    """Random draws (breakout assignment); None draws from a fresh generator."""


@dataclass
class Member:
    """Anyone who has joined the class at least once."""

    user_id: str
    name: str
    role: Role
    room: str = e.MAIN_ROOM
    present: bool = False
    joined_ts: int = 0
    promoted: Role | None = None
    """A role set by the host during the class; it outlives reconnects."""


@dataclass
class Live:
    class_id: str = ""
    title: str = ""
    media: e.MediaMode = "sfu"
    created_ts: int = 0
    capacity: int | None = None
    created_by: str | None = None
    ended: bool = False
    members: dict[str, Member] = field(default_factory=dict)
    hands: dict[str, int] = field(default_factory=dict)
    """user id -> time the hand went up; insertion order is queue order."""
    chat: dict[str, deque[e.ChatSent]] = field(default_factory=dict)

    # -- queries ---------------------------------------------------------

    def present(self) -> list[Member]:
        return [m for m in self.members.values() if m.present]

    def member(self, user_id: str) -> Member:
        found = self.members.get(user_id)
        if found is None or not found.present:
            raise DomainError("not_found", f"no participant {user_id!r} in this class")
        return found

    def in_room(self, room: str) -> list[Member]:
        return [m for m in self.members.values() if m.present and m.room == room]

    def recent_chat(self, room: str) -> list[e.ChatSent]:
        return list(self.chat.get(room, ()))

    # -- commands --------------------------------------------------------

    def join(self, user_id: str, name: str, role: Role) -> list[e.Event]:
        known = self.members.get(user_id)
        if known is not None and known.present:
            return []
        if known is not None and known.promoted is not None:
            role = known.promoted
        room = known.room if known is not None else e.MAIN_ROOM
        return [
            e.ParticipantJoined(actor=user_id, user_id=user_id, name=name, role=role, room=room)
        ]

    def leave(self, user_id: str, reason: str) -> list[e.Event]:
        member = self.members.get(user_id)
        if member is None or not member.present:
            return []
        out: list[e.Event] = []
        if user_id in self.hands:
            out.append(
                e.HandChanged(actor=user_id, user_id=user_id, raised=False, room=member.room)
            )
        out.append(e.ParticipantLeft(actor=user_id, user_id=user_id, reason=reason))
        return out

    def chat_send(self, actor: Member, cmd: c.ChatSend, ctx: Context) -> list[e.Event]:
        if cmd.to_user is not None:
            target = self.member(cmd.to_user)
            if target.room != actor.room:
                raise DomainError("conflict", "direct messages reach people in your room only")
        return [
            e.ChatSent(
                actor=actor.user_id,
                id=ctx.new_id(),
                user_id=actor.user_id,
                name=actor.name,
                text=cmd.text,
                room=actor.room,
                to_user=cmd.to_user,
            )
        ]

    def hand_raise(self, actor: Member) -> list[e.Event]:
        if actor.user_id in self.hands:
            return []
        return [
            e.HandChanged(actor=actor.user_id, user_id=actor.user_id, raised=True, room=actor.room)
        ]

    def hand_lower(self, actor: Member, cmd: c.HandLower) -> list[e.Event]:
        user_id = cmd.user_id or actor.user_id
        if user_id != actor.user_id and not allowed(actor.role, Action.HAND_LOWER_OTHERS):
            raise DomainError("forbidden", "only hosts and moderators lower another's hand")
        target = self.member(user_id)
        if user_id not in self.hands:
            return []
        return [e.HandChanged(actor=actor.user_id, user_id=user_id, raised=False, room=target.room)]

    def react(self, actor: Member, cmd: c.ReactionSend) -> list[e.Event]:
        return [
            e.ReactionSent(
                actor=actor.user_id, user_id=actor.user_id, emoji=cmd.emoji, room=actor.room
            )
        ]

    def set_role(self, actor: Member, cmd: c.RoleSet) -> list[e.Event]:
        target = self.member(cmd.user_id)
        if target.role == "host" or cmd.role == "host":
            raise DomainError("conflict", "the host role comes from the join token only")
        if target.role == cmd.role:
            return []
        return [e.RoleChanged(actor=actor.user_id, user_id=cmd.user_id, role=cmd.role)]

    # -- events ----------------------------------------------------------

    def apply(self, ev: e.Event) -> None:
        match ev:
            case e.ClassCreated():
                self.class_id, self.title, self.media = ev.class_id, ev.title, ev.media
                self.created_ts, self.capacity, self.created_by = ev.ts, ev.capacity, ev.created_by
            case e.ClassEnded():
                self.ended = True
                for member in self.members.values():
                    member.present = False
                self.hands.clear()
            case e.ParticipantJoined():
                self._apply_joined(ev)
            case e.ParticipantLeft():
                if ev.user_id in self.members:
                    self.members[ev.user_id].present = False
            case e.RoleChanged():
                member = self.members[ev.user_id]
                member.role = member.promoted = ev.role
            case e.ChatSent():
                self.chat.setdefault(ev.room, deque(maxlen=CHAT_HISTORY)).append(ev)
            case e.HandChanged():
                if ev.raised:
                    self.hands[ev.user_id] = ev.ts
                else:
                    self.hands.pop(ev.user_id, None)

    def _apply_joined(self, ev: e.ParticipantJoined) -> None:
        member = self.members.get(ev.user_id)
        if member is None:
            member = self.members[ev.user_id] = Member(ev.user_id, ev.name, ev.role)
        member.name, member.role, member.room = ev.name, ev.role, ev.room
        member.present, member.joined_ts = True, ev.ts
