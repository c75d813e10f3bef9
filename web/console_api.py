"""Classes over REST for the console: create and list them, their links, rosters, ending one.

The admin key manages every class; an organizer token (web/organizers.py)
the classes its holder created. A scheduled class keeps its start and the
time zone it was given in its creation event, so every node lists it alike.
The console page itself is served here too (`GET /console`).
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

import msgspec
from aiohttp import web

from classroom import events as e
from classroom.class_summary import ClassState, listed_order
from classroom.commands import Name
from classroom.errors import DomainError
from classroom.roles import Action, Role, allowed
from signaling.auth import TokenError, mint, verify
from signaling.registry import new_class_id
from signaling.runtime import ClassRuntime
from web.api import ApiError, Title, body_of, links, query_of
from web.keys import REGISTRY, SETTINGS
from web.organizers import (
    CLASSES,
    ClassIndex,
    Manager,
    created_event,
    manager,
    organizer_of,
    require_manager,
)
from web.pages import STATIC
from web.polls_api import runtime_of
from web.replay_access import bearer, is_admin
from web.roster import MAX_PEOPLE, Person, RosterError, distinct, links_csv, parse

LocalTime = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")]
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=100_000)]
RosterTtl = Annotated[int, msgspec.Meta(ge=60, le=90 * 24 * 3600)]
ROSTER_BYTES = 256 * 1024
ROSTER_BODY = 2 * ROSTER_BYTES
"""A roster's request body: its CSV text, or as many people as that holds, in JSON."""
ROSTER_TTL_S = 7 * 24 * 3600
"""Roster links last a week, or a day past the scheduled start if that is later."""


class NewClass(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    media: e.MediaMode = "sfu"
    host_name: Name | None = None
    """The name on the host link; default: the organizer's name, or "Host"."""
    starts_at: LocalTime | None = None
    """When the class is due to start: a date and time of day in `time_zone`."""
    time_zone: TimeZone | None = None
    """An IANA time zone (`Europe/Paris`); required with `starts_at`."""
    capacity: Capacity | None = None
    """Participants at once (staff not counted); the server's own limit still applies."""


class ClassesQuery(msgspec.Struct):
    state: ClassState | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 500


class LinksRequest(msgspec.Struct, forbid_unknown_fields=True):
    host_name: Name | None = None


class RosterRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Either `csv` (pasted or uploaded text, web/roster.py) or `people`."""

    csv: Annotated[str, msgspec.Meta(max_length=ROSTER_BYTES)] | None = None
    people: Annotated[list[Person], msgspec.Meta(max_length=MAX_PEOPLE)] | None = None
    role: Role = "participant"
    ttl_s: RosterTtl | None = None


class RosterQuery(msgspec.Struct):
    format: Literal["json", "csv"] = "json"


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def scheduled_at(starts_at: str, time_zone: str) -> int:
    """The epoch ms of a wall-clock time in a time zone; 400 if there is no such time."""
    if time_zone not in _time_zones():
        raise ApiError(400, "bad_request", f"unknown time zone {time_zone!r} (say, Europe/Paris)")
    zone = ZoneInfo(time_zone)
    try:
        local = datetime.fromisoformat(starts_at)
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"starts_at: {exc}") from exc
    when = local.replace(tzinfo=zone)
    # A time the clocks skip when they go forward does not exist there.
    if when.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise ApiError(400, "bad_request", f"{starts_at} does not exist in {time_zone}")
    return int(when.timestamp() * 1000)


def _draft(spec: NewClass, who: Manager) -> e.ClassCreated:
    if (spec.starts_at is None) != (spec.time_zone is None):
        raise ApiError(400, "bad_request", "give starts_at and time_zone together")
    start = None
    if spec.starts_at is not None and spec.time_zone is not None:
        start = scheduled_at(spec.starts_at, spec.time_zone)
    return e.ClassCreated(
        class_id=new_class_id(),
        title=spec.title,
        media=spec.media,
        scheduled_at=start,
        time_zone=spec.time_zone,
        capacity=spec.capacity,
        created_by=who.user_id,
    )


def _host_name(given: str | None, who: Manager) -> str:
    return given or (who.organizer.name if who.organizer is not None else "Host")


async def create_class(request: web.Request) -> web.Response:
    who = manager(request)
    spec = await body_of(request, NewClass)
    draft = _draft(spec, who)
    class_id = await request.app[REGISTRY].create_from(draft)
    join = links(
        request.app[SETTINGS], class_id, _host_name(spec.host_name, who), draft.scheduled_at
    )
    return web.json_response({"id": class_id, "links": join}, status=201)


async def list_classes(request: web.Request) -> web.Response:
    who = manager(request)
    query = query_of(request, ClassesQuery)
    found = await request.app[CLASSES].summaries(request.app[REGISTRY].journal, who)
    if query.state is not None:
        found = [c for c in found if c.state == query.state]
    found.sort(key=listed_order)
    body = msgspec.json.encode({"classes": found[: query.limit]})
    return web.Response(body=body, content_type="application/json", headers=NO_STORE)


async def class_links(request: web.Request) -> web.Response:
    """Fresh host and invite links (the ones made at creation expire)."""
    class_id = request.match_info["class_id"]
    who = await require_manager(request, class_id)
    spec = await body_of(request, LinksRequest)
    start = (await created_event(request, class_id)).scheduled_at
    join = links(request.app[SETTINGS], class_id, _host_name(spec.host_name, who), start)
    return web.json_response(join, status=201, headers=NO_STORE)


async def roster_links(request: web.Request) -> web.Response:
    """A personal join link for each person of a roster, as JSON or CSV."""
    class_id = request.match_info["class_id"]
    await require_manager(request, class_id)
    form = query_of(request, RosterQuery).format
    spec = await body_of(request, RosterRequest, ROSTER_BODY)
    people = _people(spec)
    created = await created_event(request, class_id)
    now = int(time.time())
    ttl = spec.ttl_s or max(ROSTER_TTL_S, (created.scheduled_at or 0) // 1000 - now + 24 * 3600)
    settings = request.app[SETTINGS]
    base = f"{settings.base_url}/c/{class_id}#token="
    rows = [
        (
            p.name,
            p.user_id,
            base + mint(settings.secret, class_id, p.user_id, p.name, spec.role, ttl),
        )
        for p in people
    ]
    if form == "csv":
        name = f"links-{class_id}.csv"
        headers = {"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE}
        return web.Response(
            status=201,
            text=links_csv(rows),
            content_type="text/csv",
            charset="utf-8",
            headers=headers,
        )
    body = {
        "links": [{"name": n, "user_id": u, "link": link} for n, u, link in rows],
        "role": spec.role,
        "expires_at": now + ttl,
    }
    return web.json_response(body, status=201, headers=NO_STORE)


def _people(spec: RosterRequest) -> list[Person]:
    if (spec.csv is None) == (spec.people is None):
        raise ApiError(400, "bad_request", "give either csv or people")
    try:
        return parse(spec.csv) if spec.csv is not None else distinct(spec.people or [])
    except RosterError as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc


async def end_class(request: web.Request) -> web.Response:
    """End a class: the admin, its organizer, or one of its hosts (by their join token)."""
    class_id = request.match_info["class_id"]
    by_manager = is_admin(request, bearer(request)) or organizer_of(request) is not None
    actor = (await require_manager(request, class_id)).user_id or "" if by_manager else None
    runtime = await runtime_of(request)
    if actor is None:
        actor = _host(request, runtime)
    try:
        await runtime.commit(runtime.room.end(actor))
    except DomainError as exc:
        status = {"conflict": 409, "unavailable": 503}.get(exc.code, 400)
        raise ApiError(status, exc.code, exc.message) from exc
    return web.json_response({"ok": True})


def _host(request: web.Request, runtime: ClassRuntime) -> str:
    """The user id of a host of the class, from their join token (their role as it is now)."""
    given = bearer(request)
    if given is None:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <credential>")
    try:
        claims = verify(request.app[SETTINGS].secret, given, runtime.class_id)
    except TokenError as exc:
        raise ApiError(401, "unauthorized", str(exc)) from exc
    member = runtime.room.live.members.get(claims.user_id)
    if not allowed(member.role if member is not None else claims.role, Action.CLASS_END):
        raise ApiError(403, "forbidden", "only a host ends the class")
    return claims.user_id


async def console_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "console.html", headers={"Cache-Control": "no-store"})


NO_STORE = {"Cache-Control": "no-store"}


def add_routes(app: web.Application) -> None:
    app[CLASSES] = ClassIndex()
    app.router.add_get("/console", console_page)
    app.router.add_post("/api/classes", create_class)
    app.router.add_get("/api/classes", list_classes)
    app.router.add_post("/api/classes/{class_id}/links", class_links)
    app.router.add_post("/api/classes/{class_id}/roster", roster_links)
    app.router.add_post("/api/classes/{class_id}/end", end_class)
