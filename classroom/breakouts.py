"""Breakout rooms: a draft plan, open rooms, who belongs where, the timer's arithmetic.

A user's current room is `Member.room` (so `Live.in_room` answers "who is in
this room" for everything room-scoped: chat, hands, polls, media). Breakouts
only ever change it through `ParticipantMoved`. Where a user *belongs* while
the rooms are open is the assignment (`BreakoutAssigned`); a host visiting a
room moves without changing any assignment.

Time comes in as `now` (ms) and random draws through `Context.rng`, so every
rule here is deterministic under test. The signaling side owns the clock: it
asks `deadline` when to wake and commits what `due` returns.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

from classroom import commands as c
from classroom import events as e
from classroom.dispatch import handles
from classroom.errors import DomainError
from classroom.live import Context, Live, Member
from classroom.roles import is_staff

if TYPE_CHECKING:
    from classroom.aggregate import Classroom

MAIN = e.MAIN_ROOM
WARN_MS = 60_000
"""The warning goes out this long before the rooms end."""
DEFAULT_GRACE_S = 30
MESSAGES_KEPT = 20


@dataclass
class Plan:
    """A draft of breakout rooms, prepared while the main room goes on."""

    rooms: list[e.BreakoutRoom]
    assignment: e.BreakoutAssignment
    assignments: dict[str, str] = field(default_factory=dict)
    duration_s: int | None = None
    grace_s: int = DEFAULT_GRACE_S
    cap: int | None = None

    def event(self, actor: str) -> e.BreakoutPlanned:
        return e.BreakoutPlanned(
            actor=actor,
            rooms=list(self.rooms),
            assignment=self.assignment,
            assignments=dict(self.assignments),
            duration_s=self.duration_s,
            grace_s=self.grace_s,
            cap=self.cap,
        )


@dataclass
class Round:
    """Breakout rooms that are open right now."""

    rooms: list[e.BreakoutRoom]
    assignment: e.BreakoutAssignment
    opened_at: int
    ends_at: int | None
    grace_s: int
    cap: int | None
    warned: bool
    closes_at: int | None = None
    assigned: dict[str, str] = field(default_factory=dict)
    """user id -> the room they belong to (absent users included)."""
    help: dict[str, e.BreakoutHelpRequested] = field(default_factory=dict)
    """Open calls for help, by user; answered when staff enter that room."""
    messages: deque[e.BreakoutMessage] = field(default_factory=lambda: deque(maxlen=MESSAGES_KEPT))

    def has(self, room_id: str) -> bool:
        return room_id == MAIN or any(r.id == room_id for r in self.rooms)

    def size(self, room_id: str, besides: str = "") -> int:
        return sum(1 for uid, rid in self.assigned.items() if rid == room_id and uid != besides)

    def members_of(self, room_id: str) -> list[str]:
        return [uid for uid, rid in self.assigned.items() if rid == room_id]


@dataclass
class Breakouts:
    plan: Plan | None = None
    round: Round | None = None

    def open_round(self) -> Round:
        if self.round is None:
            raise DomainError("conflict", "no breakout rooms are open")
        return self.round

    def apply(self, ev: e.Event, live: Live) -> None:
        match ev:
            case e.ParticipantMoved():
                self._moved(ev, live)
            case e.BreakoutPlanned():
                self.plan = Plan(
                    ev.rooms, ev.assignment, dict(ev.assignments), ev.duration_s, ev.grace_s, ev.cap
                )
            case e.BreakoutPlanDiscarded():
                self.plan = None
            case e.BreakoutOpened():
                self.plan = None
                self.round = Round(
                    rooms=ev.rooms,
                    assignment=ev.assignment,
                    opened_at=ev.ts,
                    ends_at=ev.ends_at,
                    grace_s=ev.grace_s,
                    cap=ev.cap,
                    warned=_warned(ev.ends_at, ev.ts),
                )
            case e.BreakoutClosed():
                self.round = None
            case _ if self.round is not None:
                _apply_round(self.round, ev)

    def _moved(self, ev: e.ParticipantMoved, live: Live) -> None:
        member = live.members.get(ev.user_id)
        if member is None:
            return
        member.room = ev.room
        if self.round is not None and is_staff(member.role) and ev.room != MAIN:
            answered = [uid for uid, req in self.round.help.items() if req.room_id == ev.room]
            for uid in answered:
                del self.round.help[uid]


def _apply_round(r: Round, ev: e.Event) -> None:
    match ev:
        case e.BreakoutAssigned():
            if ev.room_id == MAIN:
                r.assigned.pop(ev.user_id, None)
            else:
                r.assigned[ev.user_id] = ev.room_id
        case e.BreakoutMessage():
            r.messages.append(ev)
        case e.BreakoutHelpRequested():
            r.help[ev.user_id] = ev
        case e.BreakoutExtended():
            r.ends_at, r.warned = ev.ends_at, _warned(ev.ends_at, ev.ts)
        case e.BreakoutWarning():
            r.warned = True
        case e.BreakoutClosing():
            r.closes_at = ev.closes_at


def _warned(ends_at: int | None, now: int) -> bool:
    """No warning is due when the rooms have no end or end within the warning lead anyway."""
    return ends_at is None or ends_at - now <= WARN_MS


# -- setting rooms up --------------------------------------------------------


def _given(cmd: c.BreakoutSetup) -> bool:
    return cmd.rooms is not None or cmd.count is not None


def plan_of(cmd: c.BreakoutSetup, ctx: Context) -> Plan:
    """Check a setup and give its rooms fresh ids; refuses with `bad_request`."""
    if cmd.rooms is not None and cmd.count is not None:
        raise DomainError("bad_request", "give either rooms or count, not both")
    if cmd.assignment is None:
        raise DomainError("bad_request", "assignment is required: manual, random or self")
    if cmd.assignments is not None and cmd.assignment != "manual":
        raise DomainError("bad_request", "assignments go with manual assignment only")
    if cmd.cap is not None and cmd.assignment != "self":
        raise DomainError("bad_request", "a cap applies when participants choose (self)")
    names = (
        [r.name for r in cmd.rooms]
        if cmd.rooms
        else [f"Room {i + 1}" for i in range(cmd.count or 0)]
    )
    rooms = [e.BreakoutRoom(id=f"b-{ctx.new_id()}", name=name) for name in names]
    assignments: dict[str, str] = {}
    for uid, index in (cmd.assignments or {}).items():
        if index >= len(rooms):
            raise DomainError("bad_request", f"room index {index} for {uid!r} is out of range")
        assignments[uid] = rooms[index].id
    grace = DEFAULT_GRACE_S if cmd.grace_s is None else cmd.grace_s
    return Plan(rooms, cmd.assignment, assignments, cmd.duration_s, grace, cmd.cap)


def balanced(users: list[str], rooms: list[str], rng: random.Random) -> dict[str, str]:
    """Deal users out at random; room sizes differ by at most one."""
    if not rooms:
        return {}
    dealt = sorted(users)  # the draw depends on the generator only, not on join order
    rng.shuffle(dealt)
    return {uid: rooms[i % len(rooms)] for i, uid in enumerate(dealt)}


def placements(plan: Plan, live: Live, rng: random.Random) -> dict[str, str]:
    match plan.assignment:
        case "manual":
            return dict(plan.assignments)
        case "random":
            people = [m.user_id for m in live.present() if not is_staff(m.role)]
            return balanced(people, [r.id for r in plan.rooms], rng)
    return {}


def open_rooms(
    b: Breakouts, live: Live, actor: Member, cmd: c.BreakoutOpen, ctx: Context
) -> list[e.Event]:
    if b.round is not None:
        raise DomainError("conflict", "breakout rooms are already open; close them first")
    if _given(cmd):
        plan = plan_of(cmd, ctx)
    elif b.plan is None:
        raise DomainError("conflict", "there is no draft plan to open; give rooms or count")
    elif any(
        v is not None
        for v in (cmd.assignment, cmd.assignments, cmd.duration_s, cmd.grace_s, cmd.cap)
    ):
        raise DomainError("bad_request", "open the draft plan with {}; edit it with breakout:plan")
    else:
        plan = b.plan
    ends_at = ctx.now + plan.duration_s * 1000 if plan.duration_s else None
    out: list[e.Event] = [
        e.BreakoutOpened(
            actor=actor.user_id,
            rooms=list(plan.rooms),
            assignment=plan.assignment,
            ends_at=ends_at,
            grace_s=plan.grace_s,
            cap=plan.cap,
        )
    ]
    for uid, room_id in placements(plan, live, ctx.rng or random.Random()).items():
        out += _place(live, uid, room_id, actor.user_id)
    return out


def _place(live: Live, user_id: str, room_id: str, actor: str) -> list[e.Event]:
    assigned = e.BreakoutAssigned(actor=actor, user_id=user_id, room_id=room_id)
    return [assigned, *_move(live, user_id, room_id, actor)]


def _move(live: Live, user_id: str, room: str, actor: str) -> list[e.Event]:
    """Move a known user (present or not); a raised hand is lowered in the room left behind."""
    member = live.members.get(user_id)
    if member is None or member.room == room:
        return []
    out: list[e.Event] = []
    if user_id in live.hands:
        out.append(e.HandChanged(actor=actor, user_id=user_id, raised=False, room=member.room))
    out.append(e.ParticipantMoved(actor=actor, user_id=user_id, room=room, from_room=member.room))
    return out


# -- commands while planning or open -----------------------------------------


def plan_rooms(b: Breakouts, actor: Member, cmd: c.BreakoutPlan, ctx: Context) -> list[e.Event]:
    if not _given(cmd):
        raise DomainError("bad_request", "a plan needs rooms or count")
    return [plan_of(cmd, ctx).event(actor.user_id)]


def discard(b: Breakouts, actor: Member) -> list[e.Event]:
    if b.plan is None:
        raise DomainError("conflict", "there is no draft plan")
    return [e.BreakoutPlanDiscarded(actor=actor.user_id)]


def assign(b: Breakouts, live: Live, actor: Member, cmd: c.BreakoutAssign) -> list[e.Event]:
    if cmd.user_id not in live.members:
        raise DomainError("not_found", f"no participant {cmd.user_id!r} in this class")
    if b.round is None:
        return _assign_in_plan(b, actor, cmd)
    r = b.round
    if not r.has(cmd.room_id):
        raise DomainError("not_found", f"no breakout room {cmd.room_id!r}")
    if r.assigned.get(cmd.user_id, MAIN) == cmd.room_id == live.members[cmd.user_id].room:
        return []
    return _place(live, cmd.user_id, cmd.room_id, actor.user_id)


def _assign_in_plan(b: Breakouts, actor: Member, cmd: c.BreakoutAssign) -> list[e.Event]:
    plan = b.plan
    if plan is None:
        raise DomainError("conflict", "no breakout rooms are open or planned")
    if plan.assignment != "manual":
        raise DomainError("conflict", f"the draft plan assigns {plan.assignment}, not manual")
    if cmd.room_id != MAIN and not any(r.id == cmd.room_id for r in plan.rooms):
        raise DomainError("not_found", f"no room {cmd.room_id!r} in the draft plan")
    assignments = {uid: rid for uid, rid in plan.assignments.items() if uid != cmd.user_id}
    if cmd.room_id != MAIN:
        assignments[cmd.user_id] = cmd.room_id
    return [msgspec.structs.replace(plan.event(actor.user_id), assignments=assignments)]


def choose(b: Breakouts, live: Live, actor: Member, cmd: c.BreakoutChoose) -> list[e.Event]:
    r = b.open_round()
    if r.assignment != "self":
        raise DomainError("conflict", "the host assigns these rooms; you cannot choose")
    if not r.has(cmd.room_id):
        raise DomainError("not_found", f"no breakout room {cmd.room_id!r}")
    if r.assigned.get(actor.user_id, MAIN) == cmd.room_id == actor.room:
        return []
    if cmd.room_id != MAIN and r.cap is not None and r.size(cmd.room_id, actor.user_id) >= r.cap:
        raise DomainError("conflict", f"that room is full ({r.cap} people)")
    return _place(live, actor.user_id, cmd.room_id, actor.user_id)


def visit(b: Breakouts, live: Live, actor: Member, cmd: c.BreakoutVisit) -> list[e.Event]:
    if cmd.room_id != MAIN and not b.open_round().has(cmd.room_id):
        raise DomainError("not_found", f"no breakout room {cmd.room_id!r}")
    return _move(live, actor.user_id, cmd.room_id, actor.user_id)


def broadcast(b: Breakouts, actor: Member, cmd: c.BreakoutBroadcast) -> list[e.Event]:
    b.open_round()
    return [
        e.BreakoutMessage(
            actor=actor.user_id, user_id=actor.user_id, name=actor.name, text=cmd.text
        )
    ]


def ask_help(b: Breakouts, actor: Member) -> list[e.Event]:
    r = b.open_round()
    if actor.room == MAIN:
        raise DomainError("conflict", "ask for help from a breakout room")
    pending = r.help.get(actor.user_id)
    if pending is not None and pending.room_id == actor.room:
        return []  # staff were already called to this room
    return [
        e.BreakoutHelpRequested(
            actor=actor.user_id, user_id=actor.user_id, name=actor.name, room_id=actor.room
        )
    ]


def extend(b: Breakouts, actor: Member, cmd: c.BreakoutExtend, now: int) -> list[e.Event]:
    r = b.open_round()
    if r.closes_at is not None:
        raise DomainError("conflict", "the rooms are already closing")
    base = r.ends_at if r.ends_at is not None and r.ends_at > now else now
    return [e.BreakoutExtended(actor=actor.user_id, ends_at=base + cmd.seconds * 1000)]


def close(b: Breakouts, live: Live, actor: Member, cmd: c.BreakoutClose, now: int) -> list[e.Event]:
    r = b.open_round()
    grace = r.grace_s if cmd.grace_s is None else cmd.grace_s
    if r.closes_at is not None and now + grace * 1000 >= r.closes_at:
        raise DomainError("conflict", "the rooms are already closing")
    return closing(live, grace, now, actor.user_id)


def closing(live: Live, grace_s: int, now: int, actor: str = "") -> list[e.Event]:
    """The countdown; with no grace the rooms close in the same step."""
    out: list[e.Event] = [
        e.BreakoutClosing(actor=actor, in_s=grace_s, closes_at=now + grace_s * 1000)
    ]
    return out + (closed(live, actor) if grace_s == 0 else [])


def closed(live: Live, actor: str = "") -> list[e.Event]:
    """Everyone, present or not, goes back to main, then the rooms are gone."""
    out: list[e.Event] = []
    for member in list(live.members.values()):
        out += _move(live, member.user_id, MAIN, actor)
    return [*out, e.BreakoutClosed(actor=actor)]


# -- the timer's arithmetic --------------------------------------------------


def deadline(b: Breakouts, live: Live) -> int | None:
    """When `due` next has something to do (ms), or None."""
    r = b.round
    if r is None or live.ended:
        return None
    if r.closes_at is not None:
        return r.closes_at
    if r.ends_at is None:
        return None
    return r.ends_at if r.warned else r.ends_at - WARN_MS


def due(b: Breakouts, live: Live, now: int) -> list[e.Event]:
    """What the clock does at `now`: warn, start the closing countdown, or close."""
    r = b.round
    if r is None or live.ended:
        return []
    if r.closes_at is not None:
        return closed(live) if now >= r.closes_at else []
    if r.ends_at is None:
        return []
    if now >= r.ends_at:
        return closing(live, r.grace_s, now)
    if not r.warned and now >= r.ends_at - WARN_MS:
        return [e.BreakoutWarning(ends_at=r.ends_at, in_s=-(-(r.ends_at - now) // 1000))]
    return []


# -- joining and catching up -------------------------------------------------


def land(b: Breakouts, live: Live, events: list[e.Event]) -> list[e.Event]:
    """A first-time joiner who was assigned ahead lands straight in their room."""
    r = b.round
    if r is None:
        return events
    return [
        msgspec.structs.replace(ev, room=r.assigned[ev.user_id])
        if isinstance(ev, e.ParticipantJoined)
        and ev.user_id not in live.members
        and ev.user_id in r.assigned
        else ev
        for ev in events
    ]


def room_before(events: list[e.Event], user_id: str, current: str) -> str:
    """The room `user_id` was in before `events`, which run up to the present."""
    for ev in events:
        if isinstance(ev, e.ParticipantMoved) and ev.user_id == user_id:
            return ev.from_room
        if isinstance(ev, e.ParticipantJoined) and ev.user_id == user_id:
            return ev.room  # a rejoin keeps the room
    return current


def room_after(ev: e.Event, user_id: str, room: str) -> str:
    """The room `user_id` is in once `ev` has happened."""
    if isinstance(ev, e.ParticipantMoved | e.ParticipantJoined) and ev.user_id == user_id:
        return ev.room
    return room


# -- handlers ----------------------------------------------------------------


@handles(c.BreakoutPlan)
def _plan(room: Classroom, actor: Member, cmd: c.BreakoutPlan, ctx: Context) -> list[e.Event]:
    return plan_rooms(room.breakouts, actor, cmd, ctx)


@handles(c.BreakoutDiscard)
def _discard(room: Classroom, actor: Member, cmd: c.BreakoutDiscard, ctx: Context) -> list[e.Event]:
    return discard(room.breakouts, actor)


@handles(c.BreakoutOpen)
def _open(room: Classroom, actor: Member, cmd: c.BreakoutOpen, ctx: Context) -> list[e.Event]:
    return open_rooms(room.breakouts, room.live, actor, cmd, ctx)


@handles(c.BreakoutAssign)
def _assign(room: Classroom, actor: Member, cmd: c.BreakoutAssign, ctx: Context) -> list[e.Event]:
    return assign(room.breakouts, room.live, actor, cmd)


@handles(c.BreakoutChoose)
def _choose(room: Classroom, actor: Member, cmd: c.BreakoutChoose, ctx: Context) -> list[e.Event]:
    return choose(room.breakouts, room.live, actor, cmd)


@handles(c.BreakoutVisit)
def _visit(room: Classroom, actor: Member, cmd: c.BreakoutVisit, ctx: Context) -> list[e.Event]:
    return visit(room.breakouts, room.live, actor, cmd)


@handles(c.BreakoutBroadcast)
def _broadcast(
    room: Classroom, actor: Member, cmd: c.BreakoutBroadcast, ctx: Context
) -> list[e.Event]:
    return broadcast(room.breakouts, actor, cmd)


@handles(c.BreakoutHelp)
def _help(room: Classroom, actor: Member, cmd: c.BreakoutHelp, ctx: Context) -> list[e.Event]:
    return ask_help(room.breakouts, actor)


@handles(c.BreakoutExtend)
def _extend(room: Classroom, actor: Member, cmd: c.BreakoutExtend, ctx: Context) -> list[e.Event]:
    return extend(room.breakouts, actor, cmd, ctx.now)


@handles(c.BreakoutClose)
def _close(room: Classroom, actor: Member, cmd: c.BreakoutClose, ctx: Context) -> list[e.Event]:
    return close(room.breakouts, room.live, actor, cmd, ctx.now)
