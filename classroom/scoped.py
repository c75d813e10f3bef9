"""Lookups over a class's room-scoped items (polls, questions).

An item a member may not see is reported exactly like an unknown one, so
that a refusal never confirms that a hidden poll or question exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeVar

from classroom.errors import DomainError
from classroom.live import Member
from classroom.roles import Role


class Scoped(Protocol):
    def visible_to(self, role: Role, room: str) -> bool: ...


T = TypeVar("T")
S = TypeVar("S", bound=Scoped)


def find(items: Mapping[str, T], noun: str, item_id: str) -> T:
    found = items.get(item_id)
    if found is None:
        raise DomainError("not_found", f"no {noun} {item_id!r}")
    return found


def find_seen(items: Mapping[str, S], noun: str, item_id: str, actor: Member) -> S:
    """The item, if `actor` may see it: a hidden item is as good as unknown."""
    found = items.get(item_id)
    if found is None or not found.visible_to(actor.role, actor.room):
        raise DomainError("not_found", f"no {noun} {item_id!r}")
    return found


def visible(items: Mapping[str, S], role: Role, room: str) -> list[S]:
    return [item for item in items.values() if item.visible_to(role, room)]
