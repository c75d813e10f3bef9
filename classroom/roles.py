"""Roles and the grants table every command is checked against.

A role comes from the signed join token and may be changed by the host during
the class (participant <-> moderator). Each command names the one action it
needs; `require` is called for every command before the domain handles it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

from classroom.errors import DomainError

Role = Literal["host", "moderator", "participant"]
ROLES: tuple[Role, ...] = get_args(Role)
STAFF_ROLES: frozenset[Role] = frozenset({"host", "moderator"})

ReplayRole = Literal["viewer", "moderator", "host"]
"""A role in a recording's replay, from the replay token; a viewer acts as a participant."""
REPLAY_ROLES: tuple[ReplayRole, ...] = get_args(ReplayRole)


class Action(StrEnum):
    CHAT_SEND = "chat.send"
    HAND_RAISE = "hand.raise"
    HAND_LOWER_OTHERS = "hand.lower_others"
    REACT = "react"
    CLASS_END = "class.end"
    CLASS_LOCK = "class.lock"
    ROLE_SET = "role.set"
    POLL_MANAGE = "poll.manage"
    POLL_VOTE = "poll.vote"
    QA_ASK = "qa.ask"
    QA_VOTE = "qa.vote"
    QA_MODERATE = "qa.moderate"
    QA_REPLY = "qa.reply"
    BREAKOUT_MANAGE = "breakout.manage"
    BREAKOUT_CHOOSE = "breakout.choose"
    BREAKOUT_HELP = "breakout.help"
    MEDIA_PUBLISH = "media.publish"
    MEDIA_RECEIVE = "media.receive"
    MEDIA_MUTE_OTHERS = "media.mute_others"
    RECORDING_CONTROL = "recording.control"
    REPLAY_WATCH = "replay.watch"


_EVERYONE = frozenset(
    {
        Action.CHAT_SEND,
        Action.HAND_RAISE,
        Action.REACT,
        Action.POLL_VOTE,
        Action.QA_ASK,
        Action.QA_VOTE,
        Action.QA_REPLY,
        Action.BREAKOUT_CHOOSE,
        Action.BREAKOUT_HELP,
        Action.MEDIA_PUBLISH,
        Action.MEDIA_RECEIVE,
        Action.REPLAY_WATCH,
    }
)
_STAFF = _EVERYONE | {
    Action.HAND_LOWER_OTHERS,
    Action.CLASS_LOCK,
    Action.POLL_MANAGE,
    Action.QA_MODERATE,
    Action.BREAKOUT_MANAGE,
    Action.MEDIA_MUTE_OTHERS,
}

GRANTS: dict[Role, frozenset[Action]] = {
    "host": frozenset(Action),
    "moderator": frozenset(_STAFF),
    "participant": _EVERYONE,
}


def allowed(role: Role, action: Action) -> bool:
    return action in GRANTS[role]


def require(role: Role, action: Action) -> None:
    if not allowed(role, action):
        raise DomainError("forbidden", f"a {role} may not do {action.value}")


def is_staff(role: Role) -> bool:
    return role in STAFF_ROLES


def acting_role(role: ReplayRole) -> Role:
    """The class role a replay role acts with: the replay is checked against the same grants."""
    return "participant" if role == "viewer" else role
