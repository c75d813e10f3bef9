"""A recording's replay for its staff over HTTP: its report, its digest (JSON or an Atom
feed) and its xAPI statements.

Allowed with the admin key, a host's or moderator's token (a join token of
the recording's class or a replay token), or the organizer token of the
class's creator, sent as `Authorization: Bearer`; the Atom digest also with a
signed feed URL that staff ask for (`POST .../digest/link`), for feed readers
that send no header: it opens that feed only, expires within `MAX_FEED_TTL_S`,
and carries no token (a URL ends up in logs and in feed services; a replay
token there would open the replay itself). Each is a fold of the recording's
stream journal, which every node can read, so any node answers; decoding and
folding run in a worker thread. The report's and the digest's fold is kept
in memory and followed as the stream commits (web/replay_reports.py); the
statements, one per event, read the journal.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal, TypeVar
from urllib.parse import quote, urlencode

import msgspec
from aiohttp import web

from classroom import replay_events as r
from classroom.events import Event
from classroom.replay import Recording, Replay
from classroom.replay_report import Digest, RecordingFold, digest
from classroom.replay_xapi import replay_statements
from classroom.xapi import iso
from journal import JournalError
from signaling.runtime import now_ms
from web.api import ApiError, body_of, query_of
from web.keys import RECORDING_REPORTS, REPLAYS, SETTINGS
from web.recordings_api import as_staff
from web.replay_access import check_feed, feed_signature

T = TypeVar("T")
DAY_MS = 24 * 3600 * 1000
_PRIVATE = {"Cache-Control": "no-store"}
FEED_TTL_S = 7 * 24 * 3600
MAX_FEED_TTL_S = 30 * 24 * 3600


class DigestQuery(msgspec.Struct):
    since: int | None = None
    """Epoch ms; the last day when left out."""
    format: Literal["json", "atom"] = "json"
    exp: int | None = None
    """A signed feed URL's expiry (epoch s), with `sig`."""
    sig: str | None = None


class FeedLinkOptions(msgspec.Struct):
    ttl_s: Annotated[int, msgspec.Meta(ge=60, le=MAX_FEED_TTL_S)] = FEED_TTL_S


class FeedLink(msgspec.Struct):
    url: str
    """The Atom digest, opened without credentials until `expires_at`."""
    expires_at: int
    """Epoch s."""


async def _staff(request: web.Request) -> None:
    await as_staff(request, request.match_info["recording_id"])


async def _folded(
    request: web.Request,
    work: Callable[[Replay, list[Event]], T],
    check: Callable[[web.Request], Awaitable[None]] = _staff,
) -> T:
    """Check the caller, then run `work` on the recording's stream as its journal has it."""
    recording = await _published(request, check)
    journal = request.app[REPLAYS].journal
    try:
        records = [data async for _, data in journal.read(recording.recording_id)]
    except JournalError as exc:
        raise ApiError(503, "unavailable", f"the journal cannot be read now: {exc}") from exc

    def fold() -> T:
        history: list[Event] = [r.decode(data) for data in records]
        return work(Replay.replay(recording, history), history)

    return await asyncio.to_thread(fold)


async def _published(
    request: web.Request, check: Callable[[web.Request], Awaitable[None]] = _staff
) -> Recording:
    """Check the caller, then the facts of the published recording (404 if it is not)."""
    await check(request)
    recording = request.app[REPLAYS].source.recording(request.match_info["recording_id"])
    if recording is None:
        raise ApiError(404, "not_found", "the recording is not published")
    return recording


def _json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json", headers=_PRIVATE)


async def report_route(request: web.Request) -> web.Response:
    recording = await _published(request)

    def encoded(fold: RecordingFold) -> bytes:
        return msgspec.json.encode(fold.report())

    return _json(await _kept(request, recording, encoded))


async def _kept(
    request: web.Request, recording: Recording, work: Callable[[RecordingFold], T]
) -> T:
    """`work` done on the recording's kept fold (web/replay_reports.py), brought up to date."""
    try:
        return await request.app[RECORDING_REPORTS].use(recording, work)
    except JournalError as exc:
        raise ApiError(503, "unavailable", f"the journal cannot be read now: {exc}") from exc


async def digest_route(request: web.Request) -> web.Response:
    query = query_of(request, DigestQuery)
    until = now_ms()
    since = until - DAY_MS if query.since is None else query.since
    check = _staff if query.sig is None else _feed_check(query)
    recording = await _published(request, check)

    def made_of(fold: RecordingFold) -> Digest:
        return digest(fold.stream, fold.happenings, since, until)

    made = await _kept(request, recording, made_of)
    if query.format == "json":
        return _json(msgspec.json.encode(made))
    page = f"{request.app[SETTINGS].base_url.rstrip('/')}/replay/{made.recording_id}"
    return web.Response(
        body=atom(made, page), content_type="application/atom+xml", headers=_PRIVATE
    )


def _feed_check(query: DigestQuery) -> Callable[[web.Request], Awaitable[None]]:
    async def check(request: web.Request) -> None:
        check_feed(request, request.match_info["recording_id"], query.exp or 0, query.sig or "")
        if query.format != "atom":
            raise ApiError(403, "forbidden", "a feed link opens the Atom digest only")

    return check


async def feed_link_route(request: web.Request) -> web.Response:
    """A signed URL of the Atom digest, for a feed reader that cannot send a bearer header."""
    recording_id = request.match_info["recording_id"]
    await as_staff(request, recording_id)
    spec = await body_of(request, FeedLinkOptions)
    expires = int(time.time()) + spec.ttl_s
    sig = feed_signature(request.app[SETTINGS].secret, recording_id, expires)
    query = urlencode({"format": "atom", "exp": expires, "sig": sig})
    base = request.app[SETTINGS].base_url.rstrip("/")
    url = f"{base}/api/recordings/{quote(recording_id)}/digest?{query}"
    return web.json_response(msgspec.to_builtins(FeedLink(url, expires)), status=201)


def atom(made: Digest, page: str) -> bytes:
    """The digest as an Atom feed (RFC 4287): one entry per question with news."""
    atom_ns = "http://www.w3.org/2005/Atom"
    ET.register_namespace("", atom_ns)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        child = ET.SubElement(parent, f"{{{atom_ns}}}{tag}", attrs)
        child.text = text
        return child

    feed = ET.Element(f"{{{atom_ns}}}feed")
    el(feed, "id", f"{page}#digest")
    el(feed, "title", f"Questions about {made.title or 'the recording'}")
    el(feed, "updated", iso(made.until))
    el(feed, "link", href=page)
    el(el(feed, "author"), "name", "Classroom")
    for q in made.questions:
        entry = el(feed, "entry")
        el(entry, "id", f"{page}#question-{q.id}")
        state = "new" if q.new else "answered" if q.answered else "updated"
        el(entry, "title", f"{state}: {q.text}")
        el(entry, "updated", iso(made.until))
        el(entry, "link", href=f"{page}?t={q.at_ms // 1000}")
        summary = f"{q.votes} upvotes, {q.replies} replies, {q.status}"
        el(entry, "summary", summary)
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


async def xapi_route(request: web.Request) -> web.Response:
    base_url = request.app[SETTINGS].base_url

    def statements(stream: Replay, history: list[Event]) -> bytes:
        return msgspec.json.encode({"statements": replay_statements(stream, history, base_url)})

    return _json(await _folded(request, statements))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/recordings/{recording_id}/report", report_route)
    app.router.add_get("/api/recordings/{recording_id}/digest", digest_route)
    app.router.add_post("/api/recordings/{recording_id}/digest/link", feed_link_route)
    app.router.add_get("/api/recordings/{recording_id}/xapi", xapi_route)
