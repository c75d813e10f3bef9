"""The table from command type to the domain function that handles it.

Feature modules register their handlers with `@handles(Command)`; the
aggregate looks them up after the role check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from classroom import commands as c
from classroom import events as e
from classroom.live import Context, Member

if TYPE_CHECKING:
    from classroom.aggregate import Classroom

C = TypeVar("C", bound=c.Command)
Handler = Callable[["Classroom", Member, C, Context], list[e.Event]]

HANDLERS: dict[type[c.Command], Handler[Any]] = {}


def handles(kind: type[C]) -> Callable[[Handler[C]], Handler[C]]:
    """Register the domain function that handles one command type."""

    def register(fn: Handler[C]) -> Handler[C]:
        if kind in HANDLERS:
            raise ValueError(f"{kind.__name__} already has a handler")
        HANDLERS[kind] = cast(Handler[Any], fn)
        return fn

    return register
