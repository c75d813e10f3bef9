"""Which classes this server hosts now, kept in a file beside the journals.

A class is in the set from the moment it is loaded until it is unloaded
cleanly (idle or ended, with nobody connected and no recording running).
After a crash the server rebuilds exactly these on start-up, which closes
the presence of the people who were connected and stops a recording cut
short, instead of rebuilding every class it ever held; the others load on
first use. (A cluster has no such file: a class is claimed by the first node
asked for it, which recovers it then.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from journal.atomic import write_atomically
from journal.contract import check_class_id


class HostedSet:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids: set[str] = set()
        self._lock = asyncio.Lock()

    def load(self) -> list[str]:
        """The classes hosted when the server last stopped (or died)."""
        try:
            lines = self.path.read_text().split()
        except FileNotFoundError:
            return []
        self._ids = set()
        for class_id in lines:
            try:
                check_class_id(class_id)
            except ValueError:
                continue  # a damaged line names no class
            self._ids.add(class_id)
        return sorted(self._ids)

    async def add(self, class_id: str) -> None:
        if class_id not in self._ids:
            self._ids.add(class_id)
            await self._save()

    async def discard(self, class_id: str) -> None:
        if class_id in self._ids:
            self._ids.discard(class_id)
            await self._save()

    async def _save(self) -> None:
        async with self._lock:  # one rewrite at a time, each of the latest set
            text = "".join(f"{c}\n" for c in sorted(self._ids))
            await asyncio.to_thread(write_atomically, self.path, text.encode())
