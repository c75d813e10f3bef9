"""Rendering uploaded decks off the event loop: one worker process at a time per node.

An upload is saved to its deck's folder (web/slides_api.py), then queued
here. Its worker (`python -m slides.render`) caps its own memory, CPU time
and file sizes before it reads the PDF; this side gives it a wall-clock
deadline and kills it past that. Its progress lines are read as they come
(bounded), so the uploader can watch the pages being done; when it
succeeds, `ready` is called with the new deck (which commits `DeckAdded` to
the class); when it fails, the deck's folder is removed and the job keeps
the reason, for the uploader.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from classroom import events as e
from signaling.tasks import TaskSet
from slides.store import UPLOAD, DeckStore

log = logging.getLogger(__name__)

JOBS_KEPT = 200
"""Finished jobs remembered for their uploaders (the oldest are forgotten first)."""
LINE_MAX = 4096


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 50 * 2**20
    max_pages: int = 300
    memory_mb: int = 1024
    cpu_s: int = 300
    timeout_s: float = 600
    """Wall-clock time a deck may take to render."""
    queue: int = 8
    """Uploads waiting for the worker; more are refused until some are done."""


@dataclass
class Job:
    class_id: str
    deck_id: str
    name: str
    owner: str
    state: Literal["queued", "rendering", "ready", "failed"] = "queued"
    pages: int = 0
    done: int = 0
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.deck_id,
            "name": self.name,
            "state": self.state,
            "pages": self.pages,
            "done": self.done,
            "error": self.error,
        }


Ready = Callable[[Job], Awaitable[None]]
"""Called when a deck is rendered: it commits the deck to its class, or raises."""


class Busy(Exception):
    """Too many uploads are waiting; try again later."""


class SlideDecks:
    def __init__(self, store: DeckStore, limits: Limits | None = None) -> None:
        self.store = store
        self.limits = limits or Limits()
        self.jobs: OrderedDict[tuple[str, str], Job] = OrderedDict()
        self._worker = asyncio.Semaphore(1)
        self._waiting = 0
        self._tasks = TaskSet()

    def job(self, class_id: str, deck_id: str) -> Job | None:
        return self.jobs.get((class_id, deck_id))

    def admit(self) -> None:
        """Refuse an upload now, before its bytes are read, when the queue is full."""
        if self._waiting >= self.limits.queue:
            raise Busy("the server is rendering other slides; try again in a minute")

    def render(self, job: Job, ready: Ready) -> None:
        """Queue a saved upload for rendering."""
        self.admit()
        self._waiting += 1
        self.jobs[(job.class_id, job.deck_id)] = job
        while len(self.jobs) > JOBS_KEPT:
            self.jobs.popitem(last=False)
        self._tasks.spawn(self._run(job, ready))

    async def _run(self, job: Job, ready: Ready) -> None:
        try:
            async with self._worker:
                self._waiting -= 1
                job.state = "rendering"
                await self._render(job)
            await ready(job)
            job.state = "ready"
        except Exception as exc:
            job.state, job.error = "failed", job.error or _reason(exc)
            self.store.discard(job.class_id, job.deck_id)
            log.info("slides %s of class %s refused: %s", job.deck_id, job.class_id, job.error)
        finally:
            (self.store.folder(job.class_id, job.deck_id) / UPLOAD).unlink(missing_ok=True)

    async def _render(self, job: Job) -> None:
        folder = self.store.folder(job.class_id, job.deck_id)
        limits = self.limits
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "slides.render", str(folder / UPLOAD), str(folder),
            f"--max-pages={limits.max_pages}", f"--memory-mb={limits.memory_mb}",
            f"--cpu-s={limits.cpu_s}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=LINE_MAX,
        )  # fmt: skip
        try:
            await asyncio.wait_for(self._follow(worker, job), limits.timeout_s)
        except TimeoutError:
            job.error = f"the PDF took longer than {limits.timeout_s:g} s to render"
            raise
        finally:
            with contextlib.suppress(ProcessLookupError):
                worker.kill()
            await worker.wait()
        if worker.returncode != 0:
            job.error = job.error or "the PDF could not be rendered (it may be damaged)"
            raise RuntimeError(job.error)
        meta = self.store.meta(job.class_id, job.deck_id)
        if meta is None:
            raise RuntimeError("the worker left no deck")
        job.pages = int(meta["pages"])
        meta["name"] = job.name
        (folder / "deck.json").write_text(json.dumps(meta, ensure_ascii=False))

    async def _follow(self, worker: asyncio.subprocess.Process, job: Job) -> None:
        """Read the worker's progress until it exits."""
        assert worker.stdout is not None
        while line := await worker.stdout.readline():
            try:
                said = json.loads(line)
            except ValueError:
                continue
            if not isinstance(said, dict):
                continue
            if isinstance(said.get("pages"), int):
                job.pages = said["pages"]
            if isinstance(said.get("page"), int):
                job.done = said["page"]
            if isinstance(said.get("error"), str):
                job.error = said["error"][:500]
        await worker.wait()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self._tasks.wait()


def deck_added(job: Job) -> e.DeckAdded:
    return e.DeckAdded(actor=job.owner, deck_id=job.deck_id, title=job.name, pages=job.pages)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValueError | RuntimeError) and str(exc):
        return str(exc)
    return "the slides could not be added to the class"
