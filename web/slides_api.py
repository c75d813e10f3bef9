"""Slides over HTTP: upload a PDF, watch it being rendered, load its pages.

    POST /api/classes/{id}/slides?name=...            the PDF as the body -> 202 {id, state}
    GET  /api/classes/{id}/slides/{deck}              progress: {state, pages, done, error}
    GET  /api/classes/{id}/slides/{deck}/pages/{n}    a page's image (WebP)

Every route takes a join token of the class as bearer (or the admin key). Uploading and watching
progress need a host's or a presenter's (the role the class gave them last,
and the class's presenter grants); a page's image is served to hosts and
presenters, and to everyone else once it was shown in the class. The upload
is read in chunks to its deck's folder, refused past the size cap or when it
does not start like a PDF, then rendered by a worker process
(slides/service.py): nothing of the PDF is parsed in this process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
from aiohttp import web

from classroom.commands import Name
from classroom.roles import Action, allowed
from signaling.auth import TokenError, verify
from signaling.runtime import ClassRuntime
from slides.service import Busy, Job, Limits, SlideDecks, deck_added
from slides.store import UPLOAD, DeckStore, new_deck_id
from web.api import ApiError, query_of
from web.keys import REGISTRY, SETTINGS
from web.polls_api import runtime_of
from web.replay_access import bearer, is_admin

SLIDES = web.AppKey("slides", SlideDecks)
CHUNK = 256 * 1024
PDF_MAGIC = b"%PDF-"
MAGIC_WITHIN = 1024
"""PDF readers accept the header anywhere in the first kilobyte."""


class UploadQuery(msgspec.Struct):
    name: Name = "Slides"
    """The deck's name as the class sees it (its file name, say)."""


@dataclass(frozen=True)
class Caller:
    user_id: str
    """Empty for the admin key (an LMS adding slides before the class)."""
    presents: bool
    """Host, or a presenter the class made: may upload and see every page."""


def caller(request: web.Request, runtime: ClassRuntime) -> Caller:
    settings = request.app[SETTINGS]
    given = bearer(request)
    if given is None:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <join token>")
    if is_admin(request, given):
        return Caller("", presents=True)
    try:
        claims = verify(settings.secret, given, runtime.class_id)
    except TokenError as exc:
        raise ApiError(401, "unauthorized", str(exc)) from exc
    room = runtime.room
    member = room.live.members.get(claims.user_id)
    role = member.role if member is not None else claims.role
    granted = room.slides.granted(claims.user_id)
    return Caller(claims.user_id, allowed(role, Action.SLIDES_PRESENT, granted))


async def upload(request: web.Request) -> web.Response:
    runtime = await runtime_of(request)
    who = caller(request, runtime)
    if not who.presents:
        raise ApiError(403, "forbidden", "only hosts and presenters upload slides")
    name = query_of(request, UploadQuery).name
    decks = request.app[SLIDES]
    try:
        decks.admit()
    except Busy as exc:
        raise _busy(str(exc)) from exc
    deck_id = new_deck_id()
    folder = decks.store.create(runtime.class_id, deck_id)
    try:
        await _save(request, folder / UPLOAD, decks.limits.max_bytes)
        job = Job(runtime.class_id, deck_id, name, who.user_id)
        decks.render(job, _ready(request.app))
    except Busy as exc:
        decks.store.discard(runtime.class_id, deck_id)
        raise _busy(str(exc)) from exc
    except BaseException:
        decks.store.discard(runtime.class_id, deck_id)
        raise
    return web.json_response(job.view(), status=202)


async def _save(request: web.Request, target: Path, max_bytes: int) -> None:
    """The body, to `target`, in chunks written off the loop; 413 past `max_bytes`, 415 if
    it does not look like a PDF."""
    too_large = ApiError(413, "too_large", f"slides are at most {max_bytes // 2**20} MB")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    size = 0
    with target.open("wb") as out:
        while chunk := await request.content.read(CHUNK):
            if size == 0 and PDF_MAGIC not in chunk[:MAGIC_WITHIN]:
                raise ApiError(415, "bad_request", "this is not a PDF: upload slides as a PDF")
            size += len(chunk)
            if size > max_bytes:
                raise too_large
            await asyncio.to_thread(out.write, chunk)
    if size == 0:
        raise ApiError(400, "bad_request", "the upload is empty: send the PDF as the body")


def _ready(app: web.Application) -> Callable[[Job], Awaitable[None]]:
    async def ready(job: Job) -> None:
        """Add a rendered deck to its class, wherever the class is now."""
        runtime = await app[REGISTRY].get(job.class_id)
        if runtime is None:
            raise RuntimeError("the class is gone")
        await runtime.commit([deck_added(job)])

    return ready


def _busy(message: str) -> ApiError:
    error = ApiError(503, "unavailable", message)
    error.response.headers["Retry-After"] = "30"
    return error


async def progress(request: web.Request) -> web.Response:
    runtime = await runtime_of(request)
    who = caller(request, runtime)
    deck_id = request.match_info["deck_id"]
    job = request.app[SLIDES].job(runtime.class_id, deck_id)
    deck = runtime.room.slides.decks.get(deck_id)
    if job is not None and (who.presents or job.owner == who.user_id):
        return web.json_response(job.view())
    if deck is not None and who.presents:
        done = {"state": "ready", "done": deck.pages, "error": None}
        return web.json_response({"id": deck_id, "name": deck.name, "pages": deck.pages} | done)
    raise ApiError(404, "not_found", "no such slides")


async def page(request: web.Request) -> web.FileResponse:
    runtime = await runtime_of(request)
    who = caller(request, runtime)
    deck_id, number = request.match_info["deck_id"], request.match_info["page"]
    page = int(number) if number.isdigit() and len(number) <= 4 else 0
    path = request.app[SLIDES].store.page(runtime.class_id, deck_id, page)
    if path is None or not runtime.room.slides.may_load(deck_id, page, who.presents):
        raise ApiError(404, "not_found", "no such page (or it has not been shown yet)")
    headers = {"Cache-Control": "private, max-age=86400", "Content-Type": "image/webp"}
    return web.FileResponse(path, headers=headers)


def add_routes(app: web.Application) -> None:
    async def close(app: web.Application) -> None:
        await app[SLIDES].close()

    settings = app[SETTINGS]
    limits = Limits(settings.slides_max_mb * 2**20, settings.slides_max_pages)
    app[SLIDES] = SlideDecks(DeckStore(settings.data_dir / "slides"), limits)
    app.on_cleanup.append(close)
    base = "/api/classes/{class_id}/slides"
    app.router.add_post(base, upload)
    app.router.add_get(base + "/{deck_id}", progress)
    app.router.add_get(base + "/{deck_id}/pages/{page}", page)
