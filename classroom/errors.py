"""The one exception the domain raises when it refuses a command."""

from __future__ import annotations

from typing import Literal

ErrorCode = Literal[
    "bad_request",
    "forbidden",
    "not_found",
    "conflict",
    "rate_limited",
    "too_large",
    "unavailable",
    "internal",
    "name_required",
]
"""`unavailable`: the class stopped after a fault (a failed journal write, a lost lease)
and is rebuilt from its journal; the client reconnects and catches up. `name_required`:
someone watching a replay without a name (a guest) tried to take part in it."""


class DomainError(Exception):
    """A refusal with a wire error code and a message for people."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode = code
        self.message = message

    def to_wire(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}
