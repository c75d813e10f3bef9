"""How breakout rooms look to clients: event payloads, the snapshot part, ack fields."""

from __future__ import annotations

from typing import Any

from classroom import events as e
from classroom.breakouts import MAIN, Breakouts, Plan, Round
from classroom.live import Live
from classroom.roles import is_staff
from classroom.visibility import Viewer

Payload = dict[str, Any]

BREAKOUT_EVENTS = (
    e.ParticipantMoved,
    e.BreakoutPlanned,
    e.BreakoutPlanDiscarded,
    e.BreakoutOpened,
    e.BreakoutAssigned,
    e.BreakoutMessage,
    e.BreakoutHelpRequested,
    e.BreakoutExtended,
    e.BreakoutWarning,
    e.BreakoutClosing,
    e.BreakoutClosed,
)


def rooms_view(rooms: list[e.BreakoutRoom]) -> list[Payload]:
    return [{"id": r.id, "name": r.name} for r in rooms]


def plan_view(plan: Plan | e.BreakoutPlanned) -> Payload:
    return {
        "rooms": rooms_view(plan.rooms),
        "assignment": plan.assignment,
        "assignments": dict(plan.assignments),
        "duration_s": plan.duration_s,
        "grace_s": plan.grace_s,
        "cap": plan.cap,
    }


def opened_view(ev: e.BreakoutOpened) -> Payload:
    return {
        "rooms": rooms_view(ev.rooms),
        "assignment": ev.assignment,
        "ends_at": ev.ends_at,
        "grace_s": ev.grace_s,
        "cap": ev.cap,
    }


def message_view(ev: e.BreakoutMessage) -> Payload:
    return {
        "seq": ev.seq,
        "ts": ev.ts,
        "text": ev.text,
        "from": {"user_id": ev.user_id, "name": ev.name},
    }


def help_view(ev: e.BreakoutHelpRequested) -> Payload:
    return {"room_id": ev.room_id, "user_id": ev.user_id, "name": ev.name, "ts": ev.ts}


def breakout_wire(ev: e.Event, head: Payload) -> tuple[str, Payload] | None:
    """The socket event of one breakout event (see BREAKOUT_EVENTS)."""
    match ev:
        case e.ParticipantMoved():
            return "participant:updated", head | {"user_id": ev.user_id, "room": ev.room}
        case e.BreakoutPlanned():
            return "breakout:planned", head | {"plan": plan_view(ev)}
        case e.BreakoutPlanDiscarded():
            return "breakout:plan_discarded", head
        case e.BreakoutOpened():
            return "breakout:opened", head | {"breakouts": opened_view(ev)}
        case e.BreakoutAssigned():
            return "breakout:assigned", head | {"room_id": ev.room_id, "user_id": ev.user_id}
        case e.BreakoutMessage():
            return "breakout:message", message_view(ev)
        case e.BreakoutHelpRequested():
            return "breakout:help_requested", head | help_view(ev)
        case e.BreakoutExtended():
            return "breakout:extended", head | {"ends_at": ev.ends_at}
        case e.BreakoutWarning():
            return "breakout:warning", head | {"ends_at": ev.ends_at, "in_s": ev.in_s}
        case e.BreakoutClosing():
            return "breakout:closing", head | {"in_s": ev.in_s, "closes_at": ev.closes_at}
        case e.BreakoutClosed():
            return "breakout:closed", head
    return None


def breakouts_view(b: Breakouts, live: Live, viewer: Viewer) -> Payload | None:
    """The snapshot's `breakouts`: null when there is nothing the viewer may see."""
    staff = is_staff(viewer.role)
    plan = plan_view(b.plan) if staff and b.plan is not None else None
    if b.round is None:
        if plan is None:
            return None
        return {"open": False, "rooms": [], "ends_at": None, "plan": plan}
    out = _round_view(b.round, live, viewer)
    if staff:
        out["help"] = [help_view(req) for req in b.round.help.values()]
        out["plan"] = plan
    return out


def _round_view(r: Round, live: Live, viewer: Viewer) -> Payload:
    rooms = [
        {
            "id": room.id,
            "name": room.name,
            "assigned": r.members_of(room.id),
            "present": [m.user_id for m in live.in_room(room.id)],
        }
        for room in r.rooms
    ]
    return {
        "open": True,
        "rooms": rooms,
        "assignment": r.assignment,
        "cap": r.cap,
        "grace_s": r.grace_s,
        "opened_at": r.opened_at,
        "ends_at": r.ends_at,
        "closes_at": r.closes_at,
        "your_room": r.assigned.get(viewer.user_id, MAIN),
        "messages": [message_view(m) for m in r.messages],
    }


def planned_reply(events: list[e.Event]) -> Payload:
    """Ack of `breakout:plan`: the draft as saved, with its room ids."""
    return next(({"plan": plan_view(ev)} for ev in events if isinstance(ev, e.BreakoutPlanned)), {})


def opened_reply(events: list[e.Event]) -> Payload:
    """Ack of `breakout:open`: the rooms and their end."""
    return next(
        ({"breakouts": opened_view(ev)} for ev in events if isinstance(ev, e.BreakoutOpened)), {}
    )
