"""The classes this node hosts, loaded from and created in the journal."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from classroom import events as e
from classroom.aggregate import Classroom
from recorder.journal import Journal
from signaling.runtime import TAIL, ClassRuntime
from signaling.transport import Transport

log = logging.getLogger(__name__)

CLASS_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def new_class_id() -> str:
    return secrets.token_urlsafe(9)


class Registry:
    def __init__(self, journal: Journal, transport: Transport, media: dict[str, Any]) -> None:
        self.journal = journal
        self.transport = transport
        self.media = media
        self.runtimes: dict[str, ClassRuntime] = {}

    async def load_all(self) -> int:
        """Rebuild every class found in the journal; returns how many were loaded."""
        for class_id in await self.journal.class_ids():
            try:
                await self._load(class_id)
            except Exception:
                log.exception("class %s could not be rebuilt from its journal", class_id)
        return len(self.runtimes)

    async def get(self, class_id: str) -> ClassRuntime | None:
        if not CLASS_ID.match(class_id):
            return None
        runtime = self.runtimes.get(class_id)
        if runtime is not None and runtime.failed:
            await runtime.close()
            runtime = await self._load(class_id)
        return runtime

    async def create(
        self, title: str, media: e.MediaMode, class_id: str | None = None
    ) -> ClassRuntime:
        class_id = class_id or new_class_id()
        room = Classroom()
        runtime = self._runtime(room, class_id)
        self.runtimes[class_id] = runtime
        await runtime.commit(room.create(class_id, title, media))
        return runtime

    async def _load(self, class_id: str) -> ClassRuntime:
        history = [e.decode(data) async for _, data in self.journal.read(class_id)]
        room = Classroom.replay(history)
        runtime = self._runtime(room, class_id)
        runtime.tail.extend(history[-TAIL:])
        self.runtimes[class_id] = runtime
        # Nobody is connected to a class that was just loaded: close the sessions
        # that a crash or restart left open, so presence and attendance stay true.
        await runtime.commit(room.leave_everyone("server restarted"))
        return runtime

    def _runtime(self, room: Classroom, class_id: str) -> ClassRuntime:
        return ClassRuntime(class_id, room, self.journal, self.transport, self.media)

    async def close(self) -> None:
        for runtime in self.runtimes.values():
            await runtime.close()
