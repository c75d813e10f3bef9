"""How events and state look to clients: Socket.IO event names and payloads.

Pure functions from the domain's records to plain dicts, shared by the live
broadcaster, reconnect catch-up and the replay timeline. Each feature has a
`*_wire` module beside this one: its `*_view` functions show state (the
snapshot's parts), its `*_wire` function shows an event as `(name, payload)`.
"""

from __future__ import annotations

from typing import Any

from classroom import events as e
from classroom.breakouts_wire import BREAKOUT_EVENTS, breakout_wire
from classroom.live import Member
from classroom.media_wire import MEDIA_EVENTS, media_wire
from classroom.polls_wire import POLL_EVENTS, poll_wire
from classroom.qa_wire import QA_EVENTS, qa_wire
from classroom.roles import Role, is_staff
from classroom.slides_wire import SLIDES_EVENTS, slides_wire

Payload = dict[str, Any]
Wire = tuple[str, Payload]

STAFF_FIELDS: dict[str, frozenset[str]] = {
    "recording:state": frozenset({"recording_id"}),
    "recording:marker": frozenset({"recording_id"}),
}
"""Fields of a message sent to everyone that only hosts and moderators get.

A recording stays private until it is shared: participants learn that the
class is being recorded, never which recording it is.
"""


def member_view(member: Member, hand_ts: int | None = None) -> Payload:
    return {
        "user_id": member.user_id,
        "name": member.name,
        "role": member.role,
        "room": member.room,
        "hand": hand_ts is not None,
    }


def chat_view(ev: e.ChatSent) -> Payload:
    out: Payload = {
        "id": ev.id,
        "seq": ev.seq,
        "ts": ev.ts,
        "from": {"user_id": ev.user_id, "name": ev.name},
        "text": ev.text,
        "room": ev.room,
    }
    if ev.to_user is not None:
        out["to_user"] = ev.to_user
    return out


def public_form(wire: Wire) -> Wire:
    """A message as participants get it: without the fields for hosts and moderators.

    Returns `wire` itself when nothing is withheld, so callers can tell by identity.
    """
    hidden = STAFF_FIELDS.get(wire[0])
    if hidden is None:
        return wire
    name, payload = wire
    return name, {k: v for k, v in payload.items() if k not in hidden}


def wire_for(wire: Wire, role: Role) -> Wire:
    return wire if is_staff(role) else public_form(wire)


def to_wire(ev: e.Event) -> Wire | None:
    """The client-facing name and payload of an event, or None if it is internal."""
    head: Payload = {"seq": ev.seq, "ts": ev.ts}
    match ev:
        case e.ChatSent():
            return "chat:message", chat_view(ev)
        case e.ParticipantJoined():
            person = {"user_id": ev.user_id, "name": ev.name, "role": ev.role, "room": ev.room}
            return "participant:joined", head | {"participant": person, **person}
        case e.ParticipantLeft():
            return "participant:left", head | {"user_id": ev.user_id, "reason": ev.reason}
        case e.RoleChanged():
            return "participant:updated", head | {"user_id": ev.user_id, "role": ev.role}
        case e.HandChanged():
            return "hand:changed", head | {"user_id": ev.user_id, "raised": ev.raised}
        case e.ReactionSent():
            return "reaction", head | {"user_id": ev.user_id, "emoji": ev.emoji}
        case e.ClassEnded():
            return "class:ended", head
        case e.RecordingStarted() | e.RecordingResumed():
            return "recording:state", head | {"state": "recording", "recording_id": ev.recording_id}
        case e.RecordingPaused():
            return "recording:state", head | {"state": "paused", "recording_id": ev.recording_id}
        case e.RecordingStopped():
            return "recording:state", head | {"state": "idle", "recording_id": ev.recording_id}
        case e.RecordingMarker():
            return "recording:marker", head | {"recording_id": ev.recording_id, "title": ev.title}
        case _ if isinstance(ev, BREAKOUT_EVENTS):
            return breakout_wire(ev, head)
        case _ if isinstance(ev, POLL_EVENTS):
            return poll_wire(ev, head)
        case _ if isinstance(ev, MEDIA_EVENTS):
            return media_wire(ev)
        case _ if isinstance(ev, QA_EVENTS):
            return qa_wire(ev, head)
        case _ if isinstance(ev, SLIDES_EVENTS):
            return slides_wire(ev, head)
    return None
