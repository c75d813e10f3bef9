"""`GET /api/classes/{id}/polls.csv`: every poll's ballots (or one poll's, `?poll_id=`).

Allowed with the admin key, the organizer token of the class's creator, or
the join token of a host or moderator of that class (`Authorization: Bearer
<token>`). Anonymous polls export no voter (see classroom/polls_export.py).
"""

from __future__ import annotations

import hmac

import msgspec
from aiohttp import web

from classroom.errors import DomainError
from classroom.polls_export import polls_csv
from classroom.roles import is_staff
from signaling.auth import TokenError, verify
from signaling.cluster import Moved
from signaling.runtime import ClassRuntime
from web.api import ApiError, query_of
from web.keys import REGISTRY, SETTINGS
from web.organizers import organizer_manages


class PollsQuery(msgspec.Struct):
    poll_id: str | None = None
    """One poll's ballots only."""


async def runtime_of(request: web.Request) -> ClassRuntime:
    """The class, hosted here; a class on another node is a redirect to it."""
    try:
        runtime = await request.app[REGISTRY].get(request.match_info["class_id"])
    except Moved as moved:
        raise web.HTTPTemporaryRedirect(moved.url.rstrip("/") + request.path_qs) from moved
    if runtime is None:
        raise ApiError(404, "not_found", "no such class")
    return runtime


def authorize(request: web.Request, runtime: ClassRuntime) -> None:
    settings = request.app[SETTINGS]
    given = request.headers.get("Authorization", "")
    key = settings.admin_key
    if key and hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
        return
    if not given.startswith("Bearer "):
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <admin key or join token>")
    try:
        claims = verify(settings.secret, given.removeprefix("Bearer "), runtime.class_id)
    except TokenError as exc:
        raise ApiError(401, "unauthorized", str(exc)) from exc
    member = runtime.room.live.members.get(claims.user_id)
    role = member.role if member is not None else claims.role
    if not is_staff(role):
        raise ApiError(403, "forbidden", "only hosts and moderators export polls")


async def polls_csv_route(request: web.Request) -> web.Response:
    runtime = await runtime_of(request)
    if not await organizer_manages(request, runtime.class_id):
        authorize(request, runtime)
    polls = runtime.room.polls
    poll_id = query_of(request, PollsQuery).poll_id
    try:
        chosen = [polls.get(poll_id)] if poll_id is not None else list(polls.polls.values())
    except DomainError as exc:
        raise ApiError(404, "not_found", exc.message) from exc
    name = f"poll-{poll_id}.csv" if poll_id is not None else f"polls-{runtime.class_id}.csv"
    return web.Response(
        text=polls_csv(chosen, runtime.room.live.members),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/classes/{class_id}/polls.csv", polls_csv_route)
