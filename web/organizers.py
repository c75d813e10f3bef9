"""Organizers, and the index of classes that says who created each.

An organizer token (`classroom token --organizer`) lets its holder create
classes and manage the classes they created, and their recordings, as the
admin key would; for any other class it is refused. The admin key manages
every class. Who created a class is written in its creation event
(`created_by`), so every node knows it from the journal.

`ClassIndex` keeps each class's creation event (it never changes) and a
small fold of its journal for listings (classroom/class_summary.py),
brought up to date only when the journal has grown since.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import jwt
from aiohttp import web

from classroom import events as e
from classroom.class_summary import ClassSummary, ClassSummaryFold
from classroom.reports import JournalGap
from journal import Journal
from signaling.auth import OrganizerClaims, TokenError, verify_organizer
from signaling.registry import CLASS_ID
from web.api import ApiError
from web.keys import REGISTRY, SETTINGS
from web.replay_access import bearer, is_admin


@dataclass(frozen=True)
class Manager:
    """Who manages classes: the admin (no organizer), or an organizer."""

    organizer: OrganizerClaims | None = None

    @property
    def user_id(self) -> str | None:
        """The organizer's user id; None for the admin."""
        return None if self.organizer is None else self.organizer.user_id

    def may_manage(self, created: e.ClassCreated) -> bool:
        return self.organizer is None or created.created_by == self.organizer.user_id


def _organizer_shaped(token: str) -> bool:
    """Whether a token claims to be an organizer's (its signature is checked after)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return False
    return isinstance(claims, dict) and "org" in claims


def organizer_of(request: web.Request) -> OrganizerClaims | None:
    """The organizer token sent as bearer; None when the credential is of another kind.

    An organizer token that is expired or badly signed is 401, not another kind.
    """
    given = bearer(request)
    if given is None or not _organizer_shaped(given):
        return None
    try:
        return verify_organizer(request.app[SETTINGS].secret, given)
    except TokenError as exc:
        raise ApiError(401, "unauthorized", str(exc)) from exc


def manager(request: web.Request) -> Manager:
    """The admin key or an organizer token; 401 for anything else."""
    if is_admin(request, bearer(request)):
        return Manager()
    organizer = organizer_of(request)
    if organizer is None:
        raise ApiError(
            401, "unauthorized", "send Authorization: Bearer <admin key or organizer token>"
        )
    return Manager(organizer)


async def created_event(request: web.Request, class_id: str) -> e.ClassCreated:
    """The class's creation event; 404 for an unknown class."""
    created = await request.app[CLASSES].created(request.app[REGISTRY].journal, class_id)
    if created is None:
        raise ApiError(404, "not_found", "no such class")
    return created


async def require_manager(request: web.Request, class_id: str) -> Manager:
    """The admin, or the organizer who created the class; 401, 403 or 404 otherwise."""
    who = manager(request)
    if not who.may_manage(await created_event(request, class_id)):
        raise ApiError(403, "forbidden", "another organizer created this class")
    return who


async def organizer_manages(request: web.Request, class_id: str) -> bool:
    """True when the bearer is an organizer token of the class's creator.

    False for any other kind of credential (the route checks those its own
    way); 403 for an organizer token of someone else's class.
    """
    organizer = organizer_of(request)
    if organizer is None:
        return False
    if not Manager(organizer).may_manage(await created_event(request, class_id)):
        raise ApiError(403, "forbidden", "another organizer created this class")
    return True


async def manages_class(request: web.Request, who: Manager, class_id: str | None) -> bool:
    """Whether `who` manages the class (False for an unknown class)."""
    if not class_id:
        return False
    created = await request.app[CLASSES].created(request.app[REGISTRY].journal, class_id)
    return created is not None and who.may_manage(created)


class ClassIndex:
    """Each class's creation event, and its summary folded from its journal."""

    def __init__(self) -> None:
        self._created: dict[str, e.ClassCreated] = {}
        self._folds: dict[str, ClassSummaryFold] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def created(self, journal: Journal, class_id: str) -> e.ClassCreated | None:
        if not CLASS_ID.match(class_id):
            return None
        found = self._created.get(class_id)
        if found is None:
            async for _, data in journal.read(class_id):
                first = e.decode(data)
                if isinstance(first, e.ClassCreated):
                    found = self._created[class_id] = first
                break
        return found

    async def summary(self, journal: Journal, class_id: str) -> ClassSummary | None:
        """The class as its journal has it now; None for an unknown class."""
        if not CLASS_ID.match(class_id):
            return None
        lock = self._locks.setdefault(class_id, asyncio.Lock())
        async with lock:
            fold = self._folds.setdefault(class_id, ClassSummaryFold())
            if await journal.last_seq(class_id) == fold.seq:
                return fold.summary()
            records = [data async for _, data in journal.read(class_id, fold.seq)]
            try:
                await asyncio.to_thread(_fold, fold, records)
            except JournalGap:
                # The journal does not continue the fold: fold it all afresh.
                fold = self._folds[class_id] = ClassSummaryFold()
                records = [data async for _, data in journal.read(class_id)]
                await asyncio.to_thread(_fold, fold, records)
            return fold.summary()

    async def summaries(self, journal: Journal, who: Manager) -> list[ClassSummary]:
        """Every class `who` manages."""
        found: list[ClassSummary] = []
        for class_id in await journal.class_ids():
            created = await self.created(journal, class_id)
            if created is None or not who.may_manage(created):
                continue
            summary = await self.summary(journal, class_id)
            if summary is not None:
                found.append(summary)
        return found


def _fold(fold: ClassSummaryFold, records: list[bytes]) -> None:
    for data in records:
        fold.apply(e.decode(data))


CLASSES = web.AppKey("classes", ClassIndex)
