"""Commands: what a client asks the class to do, validated before the domain sees them.

Each command struct is also the wire schema of its Socket.IO event (see
signaling/schemas.py) and names the one action of the grants table it needs.
Size limits live here, next to the fields they bound.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from classroom.roles import Action, Role

CHAT_MAX = 2000
NAME_MAX = 100

UserId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX)]
ChatText = Annotated[str, msgspec.Meta(min_length=1, max_length=CHAT_MAX)]
Emoji = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]


class Command(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    action: ClassVar[Action]


class ChatSend(Command):
    action = Action.CHAT_SEND
    text: ChatText
    to_user: UserId | None = None


class HandRaise(Command):
    action = Action.HAND_RAISE


class HandLower(Command):
    action = Action.HAND_RAISE
    user_id: UserId | None = None
    """Another user's hand: needs HAND_LOWER_OTHERS, checked by the domain."""


class ReactionSend(Command):
    action = Action.REACT
    emoji: Emoji


class ClassEnd(Command):
    action = Action.CLASS_END


class RoleSet(Command):
    action = Action.ROLE_SET
    user_id: UserId
    role: Role


# -- media ------------------------------------------------------------------

Source = Literal["camera", "mic", "screen"]


class MediaMute(Command):
    """`rtc:mute`: mute or unmute one of your own sources."""

    action = Action.MEDIA_PUBLISH
    source: Source
    muted: bool


class MediaMuteUser(Command):
    """`rtc:mute_user`: a host or moderator mutes someone's source (only they unmute it)."""

    action = Action.MEDIA_MUTE_OTHERS
    user_id: UserId
    source: Source


class ClassLock(Command):
    """`class:lock`: `publish: false` stops participants publishing media; true allows it."""

    action = Action.CLASS_LOCK
    publish: bool
