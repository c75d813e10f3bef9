"""Class reports over HTTP: `GET /api/classes/{id}/report[?format=csv]` and `.../xapi`.

Allowed with the admin key, the organizer token of the class's creator, or
the join token of a host or moderator of that class (`Authorization: Bearer
<token>`). The role that counts is the one the class gave the person last: a
participant the host made a moderator may read the report, a moderator set
back to participant may not. No token is 401, a participant's token, another
class's token or another organizer's is 403.

Reports are folds of the journal (classroom/reports.py), which every node
can read, so any node answers for any class. The fold of each class asked
about recently is kept with the seq it reached: asking again folds only the
events journaled since. Decoding, folding and encoding run in a worker
thread, so a large class does not stall the event loop that serves the live
classes.
"""

from __future__ import annotations

import asyncio
import hmac
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

import msgspec
from aiohttp import web

from classroom import events as e
from classroom.reports import ClassReport, JournalGap, ReportFold
from classroom.reports_export import attendance_csv
from classroom.roles import is_staff
from classroom.xapi import class_statements
from journal import Journal, JournalError
from signaling.auth import Claims, TokenError, verify
from signaling.runtime import now_ms
from web.api import ApiError, query_of
from web.keys import REGISTRY, SETTINGS
from web.organizers import organizer_manages

T = TypeVar("T")
CACHED_CLASSES = 16
"""Folds kept in memory; the least recently asked for is dropped first."""


@dataclass
class _Entry:
    fold: ReportFold = field(default_factory=ReportFold)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ReportBook:
    """Report folds by class, each brought up to date from the journal when used."""

    def __init__(self, size: int = CACHED_CLASSES) -> None:
        self.size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def use(self, journal: Journal, class_id: str, work: Callable[[ReportFold], T]) -> T:
        """Fold what is new, then run `work` on the fold, both in a worker thread."""
        entry = self._entries.pop(class_id, None) or _Entry()
        self._entries[class_id] = entry
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        async with entry.lock:
            records = [data async for _, data in journal.read(class_id, entry.fold.seq)]
            try:
                return await asyncio.to_thread(_fold_then, entry.fold, records, work)
            except JournalGap:
                # The journal does not continue the fold: fold it all afresh.
                entry.fold = ReportFold()
                records = [data async for _, data in journal.read(class_id)]
                return await asyncio.to_thread(_fold_then, entry.fold, records, work)


def _fold_then(fold: ReportFold, records: list[bytes], work: Callable[[ReportFold], T]) -> T:
    for data in records:
        fold.apply(e.decode(data))
    return work(fold)


REPORTS = web.AppKey("reports", ReportBook)


class ReportExtension(Protocol):
    """What another part adds to a class's JSON report (the LTI course roster, say)."""

    async def __call__(self, class_id: str, report: ClassReport) -> msgspec.Struct: ...


REPORT_EXTENSION = web.AppKey("report_extension", ReportExtension)


class ReportQuery(msgspec.Struct):
    format: Literal["json", "csv"] = "json"


def _caller(request: web.Request, class_id: str) -> Claims | None:
    """None for the admin, else the verified token of someone in this class."""
    settings = request.app[SETTINGS]
    given = request.headers.get("Authorization", "")
    key = settings.admin_key
    if key and hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
        return None
    if not given.startswith("Bearer "):
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <admin key or join token>")
    try:
        claims = verify(settings.secret, given.removeprefix("Bearer "))
    except TokenError as exc:
        raise ApiError(401, "unauthorized", str(exc)) from exc
    if claims.class_id != class_id:
        raise ApiError(403, "forbidden", "the join token is for another class")
    return claims


def _may_read(fold: ReportFold, caller: Claims | None) -> bool:
    if caller is None:
        return True
    return is_staff(fold.role_of(caller.user_id) or caller.role)


async def _report(request: web.Request, work: Callable[[ReportFold], T]) -> T:
    """Check the caller, then run `work` on the class's up-to-date fold."""
    class_id = request.match_info["class_id"]
    caller = None if await organizer_manages(request, class_id) else _caller(request, class_id)
    registry = request.app[REGISTRY]
    try:
        if not await registry.exists(class_id):
            raise ApiError(404, "not_found", "no such class")

        def checked(fold: ReportFold) -> T | None:
            return work(fold) if _may_read(fold, caller) else None

        done = await request.app[REPORTS].use(registry.journal, class_id, checked)
    except JournalError as exc:
        raise ApiError(503, "unavailable", f"the journal cannot be read now: {exc}") from exc
    if done is None:
        raise ApiError(403, "forbidden", "only hosts and moderators read reports")
    return done


async def report_route(request: web.Request) -> web.Response:
    now = now_ms()
    form = query_of(request, ReportQuery).format
    if form == "csv":
        text = await _report(request, lambda fold: attendance_csv(fold.report(now)))
        name = f"attendance-{request.match_info['class_id']}.csv"
        return web.Response(
            text=text,
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"', **_PRIVATE},
        )
    report = await _report(request, lambda fold: fold.report(now))
    extend = request.app.get(REPORT_EXTENSION)
    answer = report if extend is None else await extend(request.match_info["class_id"], report)
    body = await asyncio.to_thread(msgspec.json.encode, answer)
    return web.Response(body=body, content_type="application/json", headers=_PRIVATE)


async def xapi_route(request: web.Request) -> web.Response:
    class_id = request.match_info["class_id"]
    await _report(request, lambda fold: True)  # the caller may read the class's report
    journal = request.app[REGISTRY].journal
    base_url = request.app[SETTINGS].base_url
    try:
        records = [data async for _, data in journal.read(class_id)]
    except JournalError as exc:
        raise ApiError(503, "unavailable", f"the journal cannot be read now: {exc}") from exc
    body = await asyncio.to_thread(_statements_json, records, base_url)
    return web.Response(body=body, content_type="application/json", headers=_PRIVATE)


def _statements_json(records: list[bytes], base_url: str) -> bytes:
    statements = class_statements((e.decode(data) for data in records), base_url)
    return msgspec.json.encode({"statements": statements})


_PRIVATE = {"Cache-Control": "no-store"}


def add_routes(app: web.Application) -> None:
    app[REPORTS] = ReportBook()
    app.router.add_get("/api/classes/{class_id}/report", report_route)
    app.router.add_get("/api/classes/{class_id}/xapi", xapi_route)
