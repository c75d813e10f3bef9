"""Roles and the grants table every command is checked against.

A role comes from the signed join token and may be changed by the host during
the class (participant <-> moderator). Each command names the one action it
needs; `require` is called for every command before the domain handles it.

Beside the role, the class may grant a member more: the host makes someone a
presenter (`PRESENTER`: show slides, draw, clear the board), or lets everyone
draw (`DRAWER`). Those grants are state of the class (classroom/slides.py),
so they follow the member across reconnects and are checked by the same gate.
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
    SLIDES_PRESENT = "slides.present"
    SLIDES_MANAGE = "slides.manage"
    BOARD_DRAW = "board.draw"
    BOARD_CLEAR = "board.clear"
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
    Action.BOARD_DRAW,
    Action.BOARD_CLEAR,
}

GRANTS: dict[Role, frozenset[Action]] = {
    "host": frozenset(Action),
    "moderator": frozenset(_STAFF),
    "participant": _EVERYONE,
}


PRESENTER: frozenset[Action] = frozenset(
    {Action.SLIDES_PRESENT, Action.BOARD_DRAW, Action.BOARD_CLEAR}
)
"""What a presenter may do, whatever their role."""
DRAWER: frozenset[Action] = frozenset({Action.BOARD_DRAW})
"""What everyone may do while the host lets everyone draw."""
NONE: frozenset[Action] = frozenset()


def allowed(role: Role, action: Action, granted: frozenset[Action] = NONE) -> bool:
    """Whether the role, or what the class granted the member (`granted`), allows `action`."""
    return action in GRANTS[role] or action in granted


def require(role: Role, action: Action, granted: frozenset[Action] = NONE) -> None:
    if not allowed(role, action, granted):
        raise DomainError("forbidden", f"a {role} may not do {action.value}")


def is_staff(role: Role) -> bool:
    return role in STAFF_ROLES


def acting_role(role: ReplayRole) -> Role:
    """The class role a replay role acts with: the replay is checked against the same grants."""
    return "participant" if role == "viewer" else role
