"""What the REST routes answer, as msgspec structs: web/openapi.py describes them from here.

Request bodies are the structs the handlers decode with, beside each
handler; these are the answers, which tests check the handlers against.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from classroom.class_summary import ClassSummary
from classroom.events import MediaMode
from classroom.roles import Role
from classroom.sharing import Visibility


class ErrorDetail(msgspec.Struct):
    code: str
    message: str


class ErrorBody(msgspec.Struct):
    ok: Literal[False]
    error: ErrorDetail


class Done(msgspec.Struct):
    ok: Literal[True]


class Health(msgspec.Struct):
    ok: bool
    classes: int
    redis: Literal["ok", "unreachable"] | msgspec.UnsetType = msgspec.UNSET
    """Cluster mode only."""


class Info(msgspec.Struct):
    version: str
    wire: Literal["msgpack", "json"]


class Links(msgspec.Struct):
    host: str
    """The host's personal link."""
    participant: str
    """The invite link everyone else shares."""


class NewClassAnswer(msgspec.Struct):
    id: str
    links: Links


class ClassList(msgspec.Struct):
    classes: list[ClassSummary]


class RosterLink(msgspec.Struct):
    name: str
    user_id: str
    link: str


class RosterLinks(msgspec.Struct):
    links: list[RosterLink]
    role: Role
    expires_at: int
    """When the links stop working (epoch seconds)."""


class ClassAbout(msgspec.Struct):
    id: str
    title: str
    media: MediaMode
    state: Literal["live", "ended"]
    participants: int | None
    """Present now; null when another node hosts the class."""
    node: str | None
    """The URL of the node hosting the class, if any."""


class TokenAnswer(msgspec.Struct):
    token: str


class Joined(msgspec.Struct):
    token: str
    user_id: str
    """The same for a browser that sends back the token this invite gave it before."""


class TokenLink(msgspec.Struct):
    token: str
    link: str


class Statements(msgspec.Struct):
    statements: list[dict[str, Any]]
    """xAPI 1.0.3 statements (docs/protocol.md)."""


RecordingState = Literal["recording", "stopped", "publishing", "published", "failed"]


class RecordingStatus(msgspec.Struct):
    id: str
    title: str | None
    started_at: int | None
    stopped_at: int | None
    state: RecordingState | None
    stage: str | None
    percent: int | None
    error: str | None
    visibility: Visibility
    anonymous_viewing: bool
    """With `link` visibility: whether a share link's holders may watch without a name."""
    manifest: dict[str, Any] | None
    """With a signed URL for each file (`files`) and when they expire (`files_expire_at`)."""
    class_id: str | msgspec.UnsetType | None = msgspec.UNSET
    """Staff only."""
    options: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    """The publish options; staff only."""


class RecordingList(msgspec.Struct):
    recordings: list[RecordingStatus]


class ShareLink(msgspec.Struct):
    link: str
    visibility: Visibility
    expires_at: int


class DeckProgress(msgspec.Struct):
    """An uploaded deck, as its worker renders it (`ready`: the class may show it)."""

    id: str
    name: str
    state: Literal["queued", "rendering", "ready", "failed"]
    pages: int
    """Pages of the PDF, once the worker has opened it (0 before)."""
    done: int
    """Pages rendered so far."""
    error: str | None
    """Why the PDF was refused, for the uploader."""
