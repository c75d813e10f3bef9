"""Mesh mode: for small groups, clients connect to each other and the server only relays.

`rtc:signal {to, data}` reaches `to` as `rtc:signal {from, data}` when both
are in the same room of a class created with `media: "mesh"`. `data` has a
strict schema (media/signals.py: a description with its sources, or a
candidate), so only what a peer connection needs passes the server. While
the host's publish lock keeps the sender from publishing, a signal that
offers or answers to send audio or video (an SDP section that sends, or named
`sources`) is refused, so a locked participant can receive but not send.
The media itself flows between the browsers; the lock holds on what the
server relays.
"""

from __future__ import annotations

from typing import Any

import msgspec

from classroom.commands import Command, UserId
from classroom.errors import DomainError
from classroom.roles import Action, require
from media import sdp
from media.signals import MeshSignal
from signaling.runtime import ClassRuntime, Session
from signaling.transport import user_room

MAX_SIGNAL = 32 * 1024


class RtcSignal(Command):
    action = Action.MEDIA_PUBLISH
    to: UserId
    data: MeshSignal


async def relay(session: Session, runtime: ClassRuntime, cmd: Command) -> dict[str, Any]:
    assert isinstance(cmd, RtcSignal)
    live = runtime.room.live
    if runtime.room.ended:
        raise DomainError("conflict", "the class has ended")
    me = live.members.get(session.user_id)
    if me is None or not me.present:
        raise DomainError("forbidden", "join the class first")
    require(me.role, cmd.action)
    if live.media != "mesh":
        raise DomainError("conflict", "this class uses the SFU: publish with rtc:publish")
    if cmd.to == me.user_id:
        raise DomainError("bad_request", "signal someone else")
    peer = live.member(cmd.to)
    if peer.room != me.room:
        raise DomainError("conflict", f"{cmd.to} is in another room")
    data = msgspec.to_builtins(cmd.data)
    if len(msgspec.json.encode(data)) > MAX_SIGNAL:
        raise DomainError("too_large", f"signals are at most {MAX_SIGNAL // 1024} KiB")
    if not runtime.room.media.may_publish(me) and sends_media(cmd.data):
        raise DomainError("forbidden", "the host has not allowed participants to publish")
    payload = {"from": me.user_id, "data": data}
    await runtime.transport.emit("rtc:signal", payload, to=user_room(runtime.class_id, cmd.to))
    return {"ok": True}


def sends_media(data: MeshSignal) -> bool:
    """Whether a mesh signal offers or answers to send audio or video.

    Browsers send `{description: {type, sdp}, sources}`; `{type, sdp}` at the
    top is read too. A section sends when its direction is sendrecv or
    sendonly: a track removed from a connection leaves it recvonly.
    """
    if data.sources:
        return True
    text = data.description.sdp if data.description is not None else data.sdp
    return bool(text) and any(section.sends for section in sdp.sections(text or ""))
