"""The `rtc:*` Socket.IO events served by the SFU (and the mesh relay).

`rtc:mute`, `rtc:mute_user` and `class:lock` are plain domain commands (see
signaling/schemas.py); the events here need the node's peer connections.
Each has a schema with size limits, the "rtc" rate family and a role check.

`rtc:publish` may name the source of each sent m-line: `sources: {mid:
"camera"|"mic"|"screen"}`. Unnamed audio is the mic; unnamed video is the
camera, or the screen when the camera is already published. `layers: {mid:
"low"}` makes an m-line the low layer of its source's video (the camera
unless `sources` says otherwise).

`rtc:view {tracks, audio_only}` says which video the receiver shows, each
track at the layer its tile needs; audio is always received, video not at
all with `audio_only`. The ack says which layer is forwarded of each video
track (the full one when its publisher sends no low layer).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from classroom.commands import Command, Layer, Source
from classroom.errors import DomainError
from classroom.roles import Action
from media import sdp
from media.mesh import RtcSignal, relay
from media.node import MediaNode
from media.sfu import Sfu
from media.signals import IceCandidate, Mid
from signaling.gateway import Gateway, Service
from signaling.runtime import ClassRuntime, Session

Reply = dict[str, Any]
SdpText = Annotated[str, msgspec.Meta(max_length=64 * 1024)]
"""Bounded by the Socket.IO frame; sdp.parse refuses more than 32 KiB as bad_request."""
TrackId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class RtcPublish(Command):
    action = Action.MEDIA_PUBLISH
    sdp: SdpText
    type: Literal["offer"]
    sources: Annotated[dict[Mid, Source], msgspec.Meta(max_length=8)] | None = None
    layers: Annotated[dict[Mid, Layer], msgspec.Meta(max_length=8)] | None = None


class RtcAnswer(Command):
    action = Action.MEDIA_RECEIVE
    sdp: SdpText
    type: Literal["answer"]


class RtcCandidate(Command):
    action = Action.MEDIA_RECEIVE
    pc: Literal["pub", "sub"]
    candidate: IceCandidate | None = None


class RtcSubscribe(Command):
    action = Action.MEDIA_RECEIVE
    track_ids: Annotated[list[TrackId], msgspec.Meta(max_length=64)]


class RtcUnsubscribe(RtcSubscribe):
    pass


class ShownTrack(msgspec.Struct, forbid_unknown_fields=True):
    track_id: TrackId
    layer: Layer = "high"


MAX_SHOWN = 64


class RtcView(Command):
    """`rtc:view`: the video tracks shown (null: all, in full), or audio only."""

    action = Action.MEDIA_RECEIVE
    tracks: Annotated[list[ShownTrack], msgspec.Meta(max_length=MAX_SHOWN)] | None = None
    audio_only: bool = False


def register(gateway: Gateway, node: MediaNode) -> None:
    for event, schema, handler in (
        ("rtc:publish", RtcPublish, _publish),
        ("rtc:answer", RtcAnswer, _answer),
        ("rtc:candidate", RtcCandidate, _candidate),
        ("rtc:subscribe", RtcSubscribe, _subscribe),
        ("rtc:unsubscribe", RtcUnsubscribe, _subscribe),
        ("rtc:view", RtcView, _view),
    ):
        gateway.route(event, schema, "rtc", _serve(node, handler))
    gateway.route("rtc:signal", RtcSignal, "rtc", relay)


Handler = Any


def _serve(node: MediaNode, handler: Handler) -> Service:
    async def serve(session: Session, runtime: ClassRuntime, cmd: Command) -> Reply:
        if runtime.room.live.media != "sfu":
            raise DomainError(
                "conflict", "this class uses mesh media: signal peers with rtc:signal"
            )
        reply: Reply = await handler(node.sfu(runtime), session, cmd)
        return reply

    return serve


async def _publish(sfu: Sfu, session: Session, cmd: RtcPublish) -> Reply:
    offer = sdp.parse(cmd.sdp, "offer", sfu.ice.admits)
    sources, layers = dict(cmd.sources or {}), dict(cmd.layers or {})
    answer = await sfu.publish(session.user_id, session.sid, offer, sources, layers)
    return {"ok": True, "sdp": answer, "type": "answer"}


async def _answer(sfu: Sfu, session: Session, cmd: RtcAnswer) -> Reply:
    await sfu.answer(session.user_id, session.sid, sdp.parse(cmd.sdp, "answer", sfu.ice.admits))
    return {"ok": True}


async def _candidate(sfu: Sfu, session: Session, cmd: RtcCandidate) -> Reply:
    c = cmd.candidate
    line = c.candidate if c is not None else None
    if not line and not sfu.ice.allow_private:
        # Some of the client's candidates may have been refused: the SFU waits for
        # its checks rather than give up when the candidates end.
        return {"ok": True}
    address = sdp.candidate_address(line) if line else None
    if address is not None and not sfu.ice.admits(address):
        raise DomainError("forbidden", "candidates on private or local addresses are not used")
    mid, index = (c.sdpMid, c.sdpMLineIndex) if c is not None else (None, None)
    await sfu.candidate(session.user_id, session.sid, cmd.pc, line, mid, index)
    return {"ok": True}


async def _subscribe(sfu: Sfu, session: Session, cmd: RtcSubscribe) -> Reply:
    on = not isinstance(cmd, RtcUnsubscribe)
    sfu.subscribe(session.user_id, session.sid, list(cmd.track_ids), on)
    return {"ok": True}


async def _view(sfu: Sfu, session: Session, cmd: RtcView) -> Reply:
    shown = None if cmd.tracks is None else {t.track_id: t.layer for t in cmd.tracks}
    if shown is not None and cmd.tracks is not None and len(shown) < len(cmd.tracks):
        raise DomainError("bad_request", "a track is listed twice")
    layers = sfu.view(session.user_id, session.sid, shown, cmd.audio_only)
    return {"ok": True, "layers": layers}
