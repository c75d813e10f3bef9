"""The tables from command type to the domain function that serves it.

Feature modules register their handlers with `@handles(Command)` (a command:
it returns events) or `@answers(Command)` (a query: it returns a value and
changes nothing); the aggregate looks them up once the command has passed
its gate (`Classroom.admit`).
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

Query = Callable[["Classroom", Member, C], dict[str, Any]]

HANDLERS: dict[type[c.Command], Handler[Any]] = {}
QUERIES: dict[type[c.Command], Query[Any]] = {}


def handles(kind: type[C]) -> Callable[[Handler[C]], Handler[C]]:
    """Register the domain function that handles one command type."""

    def register(fn: Handler[C]) -> Handler[C]:
        if kind in HANDLERS:
            raise ValueError(f"{kind.__name__} already has a handler")
        HANDLERS[kind] = cast(Handler[Any], fn)
        return fn

    return register


def answers(kind: type[C]) -> Callable[[Query[C]], Query[C]]:
    """Register the domain function that answers one query type."""

    def register(fn: Query[C]) -> Query[C]:
        if kind in QUERIES or kind in HANDLERS:
            raise ValueError(f"{kind.__name__} already has a handler")
        QUERIES[kind] = cast(Query[Any], fn)
        return fn

    return register
