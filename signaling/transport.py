"""The slice of python-socketio's AsyncServer that class runtimes use."""

from __future__ import annotations

from typing import Any, Protocol


class Transport(Protocol):
    async def emit(
        self,
        event: str,
        data: Any = None,
        to: str | list[str] | None = None,
        skip_sid: list[str] | None = None,
    ) -> None: ...

    async def enter_room(self, sid: str, room: str) -> None: ...

    async def leave_room(self, sid: str, room: str) -> None: ...

    async def disconnect(self, sid: str) -> None: ...


def class_room(class_id: str) -> str:
    return f"c:{class_id}"


def area_room(class_id: str, room: str) -> str:
    return f"c:{class_id}:r:{room}"


def staff_room(class_id: str) -> str:
    return f"c:{class_id}:staff"


def user_room(class_id: str, user_id: str) -> str:
    return f"c:{class_id}:u:{user_id}"
