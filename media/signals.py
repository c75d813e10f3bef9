"""The JSON shapes of WebRTC signaling that SFU and mesh classes share, with their limits."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from classroom.commands import Source

MAX_SDP_TEXT = 32 * 1024
Mid = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
StreamId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
SdpText = Annotated[str, msgspec.Meta(max_length=MAX_SDP_TEXT)]


class IceCandidate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A browser's `RTCIceCandidate.toJSON()`; an empty `candidate` ends the candidates."""

    candidate: Annotated[str, msgspec.Meta(max_length=1024)]
    sdpMid: Mid | None = None
    sdpMLineIndex: Annotated[int, msgspec.Meta(ge=0, le=63)] | None = None
    usernameFragment: Annotated[str, msgspec.Meta(max_length=256)] | None = None


class Description(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A browser's `RTCSessionDescription` as plain fields (a rollback has no SDP)."""

    type: Literal["offer", "answer", "pranswer", "rollback"]
    sdp: SdpText = ""


class MeshSignal(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """What one browser sends another in a mesh class: `{description, sources}` or
    `{candidate}` (the page's form), or `{type, sdp}` at the top (other clients)."""

    description: Description | None = None
    sources: Annotated[dict[StreamId, Source], msgspec.Meta(max_length=8)] | None = None
    candidate: IceCandidate | None = None
    type: Literal["offer", "answer", "pranswer", "rollback"] | None = None
    sdp: SdpText | None = None
