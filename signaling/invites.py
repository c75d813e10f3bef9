"""The identities a class's invite link makes, and how they are told apart.

An invite names nobody: each redemption makes a user id of the shape
`u-<invite id>-<random>`, so the identities one invite made can be counted
from the user ids a class has seen (its journal keeps every member), with no
store of its own, across restarts and nodes. The count is capped per invite
(`--invite-identities`) where it matters, when a new identity first connects.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from signaling.auth import Invite

_INVITED = re.compile(r"^u-([0-9a-f]{8})-[0-9a-f]{12}$")


def new_user_id(invite: Invite) -> str:
    return f"u-{invite.id}-{secrets.token_hex(6)}"


def invite_of(user_id: str) -> str | None:
    """The id of the invite that made this user id, if an invite made it."""
    found = _INVITED.match(user_id)
    return found.group(1) if found else None


def made_by(invite_id: str, user_ids: Iterable[str]) -> int:
    """How many of these user ids the invite made."""
    prefix = f"u-{invite_id}-"
    return sum(1 for user_id in user_ids if user_id.startswith(prefix))
