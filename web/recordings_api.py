"""Recordings over HTTP: status and manifest, publishing and sharing, replay tokens, files.

A recording is private until a host or the admin publishes it with a
visibility; web/replay_access.py says who may see what. The organizer who
created a recording's class acts as the admin for it (web/organizers.py).
Only ids and file names that match strict patterns reach the filesystem.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Annotated, Any

import msgspec
from aiohttp import web

from classroom import sharing
from classroom.commands import Name, UserId
from classroom.roles import ReplayRole
from classroom.sharing import ADMIN, Access, Visibility
from recorder.publish import DEFAULT_OPTIONS
from recorder.store import RECORDING_ID
from signaling.addresses import client_address
from signaling.auth import (
    REPLAY_TTL_S,
    TokenError,
    mint_replay,
    mint_replay_invite,
    new_user_id,
    verify_replay_invite,
)
from signaling.ratelimit import Rate, RateLimiter
from web.api import ApiError, body_of, require_admin
from web.keys import GATEWAY, RECORDER, REPLAY_JOINS, SETTINGS
from web.organizers import Manager, manages_class, organizer_of
from web.replay_access import (
    Caller,
    caller,
    file_url,
    require_permitted,
    signed_access,
    unauthorized,
    url_expiry,
)

Ttl = Annotated[int, msgspec.Meta(ge=60, le=365 * 24 * 3600)]
Trim = Annotated[int, msgspec.Meta(ge=0)] | None
SHARE_TTL_S = 30 * 24 * 3600
GUEST_NAME = "Guest"
"""What a token redeemed without a name calls its holder (never shown to others)."""
JOIN_RATES = {"address": Rate(0.5, 10), "invite": Rate(5, 50)}
"""Share-link redemptions: a burst of 10 then one per 2 s per address; 50 then 5/s per link."""


class PublishOptions(msgspec.Struct, forbid_unknown_fields=True):
    """Each field left out keeps its current value."""

    visibility: Visibility | msgspec.UnsetType = msgspec.UNSET
    anonymous_viewing: bool | msgspec.UnsetType = msgspec.UNSET
    """With `link` visibility: a share link's holders may watch without a name."""
    pseudonyms: bool | msgspec.UnsetType = msgspec.UNSET
    trim_start_ms: Trim | msgspec.UnsetType = msgspec.UNSET
    trim_end_ms: Trim | msgspec.UnsetType = msgspec.UNSET


class NewReplayToken(msgspec.Struct, forbid_unknown_fields=True):
    user_id: UserId
    name: Name
    role: ReplayRole = "viewer"
    ttl_s: Ttl = REPLAY_TTL_S


class ShareOptions(msgspec.Struct, forbid_unknown_fields=True):
    ttl_s: Ttl = SHARE_TTL_S


class JoinByShareLink(msgspec.Struct, forbid_unknown_fields=True):
    invite: Annotated[str, msgspec.Meta(max_length=4096)]
    name: Name | None = None
    """Left out: watch without a name, where the recording allows it (a guest)."""


class SignedFileQuery(msgspec.Struct):
    """A signed file URL's query (web/replay_access.py checks it); absent with a bearer token."""

    exp: int | None = None
    g: str | None = None
    sig: str | None = None


def _meta(request: web.Request, recording_id: str, who: Caller | None = None) -> dict[str, Any]:
    """The recording's metadata; 404 if there is none, or if it is another class's."""
    store = request.app[RECORDER].store
    meta = store.load(recording_id) if RECORDING_ID.match(recording_id) else None
    if meta is not None and who is not None and who.joined is not None:
        # A join token answers for its own class's recordings only, existence included.
        meta = meta if who.joined.class_id == meta.get("class_id") else None
    if meta is None:
        raise ApiError(404, "not_found", "no such recording")
    return meta


async def _organizer_manages(request: web.Request, recording_id: str) -> bool:
    """Whether the bearer is the organizer token of the recording's class's creator, who
    acts as the admin for it; False for other credentials, 404 for other recordings."""
    organizer = organizer_of(request)
    if organizer is None:
        return False
    class_id = _meta(request, recording_id).get("class_id")
    if not await manages_class(request, Manager(organizer), class_id):
        raise ApiError(404, "not_found", "no such recording")
    return True


async def _caller(request: web.Request, recording_id: str) -> Caller:
    if await _organizer_manages(request, recording_id):
        return Caller(admin=True)
    return caller(request, recording_id)


async def _as_host(request: web.Request, recording_id: str) -> dict[str, Any]:
    """The admin key, a host's join token of the recording's class or replay token, or the
    organizer token of the class's creator."""
    who = await _caller(request, recording_id)
    meta = _meta(request, recording_id, who)
    if who.staff_role(meta) != "host":
        raise ApiError(403, "forbidden", "only the admin or a host of the class may do this")
    return meta


async def as_staff(request: web.Request, recording_id: str) -> dict[str, Any]:
    """The admin key, a host's or moderator's join token of the class or replay token, or
    the organizer token of the class's creator."""
    who = await _caller(request, recording_id)
    meta = _meta(request, recording_id, who)
    if who.staff_role(meta) is None:
        message = "only the admin or the class's hosts and moderators may read this"
        raise ApiError(403, "forbidden", message)
    return meta


def status(request: web.Request, recording_id: str, meta: dict[str, Any], access: Access) -> Any:
    keys = ("id", "class_id", "title", "started_at", "stopped_at", "state", "stage", "percent")
    out = {k: meta.get(k) for k in keys} | {"error": meta.get("error")}
    out |= {"visibility": meta.get("visibility", "private"), "manifest": None}
    out["anonymous_viewing"] = bool(meta.get("anonymous_viewing", False))
    if access.grant == "staff":
        out["options"] = DEFAULT_OPTIONS | meta.get("options", {})
    # Others only see a package built with the options set now (say, with pseudonyms).
    if access.grant == "staff" or meta.get("state") == "published":
        out["manifest"] = _manifest(request, recording_id, access)
    if access.grant != "staff":  # viewers have no business with the class itself
        out.pop("class_id")
        if out["manifest"] is not None:
            out["manifest"].pop("class_id", None)
    return out


def _manifest(request: web.Request, recording_id: str, access: Access) -> Any:
    """The package's manifest, with a signed URL for each of its files."""
    found = request.app[RECORDER].store.published_file(recording_id, "manifest.json")
    if found is None:
        return None
    manifest = json.loads(found.read_bytes())
    names = ["manifest.json", "timeline.json", "chapters.vtt"]
    names += [track["file"] for track in manifest.get("tracks", [])]
    names += [manifest[k] for k in ("composite", "composite_mp4") if manifest.get(k)]
    names += [c["file"] for c in manifest.get("captions", [])]
    names += [manifest["transcript"]] if manifest.get("transcript") else []
    names += [manifest["slides"]] if manifest.get("slides") else []
    names += manifest.get("slide_images", [])
    secret, expires = request.app[SETTINGS].secret, url_expiry(access)
    manifest["files"] = {n: file_url(secret, recording_id, n, access, expires) for n in names}
    manifest["files_expire_at"] = expires
    return manifest


async def list_recordings(request: web.Request) -> web.Response:
    """Every recording for the admin; an organizer's classes' recordings for an organizer."""
    organizer = organizer_of(request)
    if organizer is None:
        require_admin(request)
    store = request.app[RECORDER].store
    found = [(r, store.load(r) or {}) for r in store.ids()]
    if organizer is not None:
        who = Manager(organizer)
        found = [(r, m) for r, m in found if await manages_class(request, who, m.get("class_id"))]
    body = {"recordings": [status(request, r, meta, ADMIN) for r, meta in found]}
    return web.json_response(body)


async def get_recording(request: web.Request) -> web.Response:
    recording_id = request.match_info["recording_id"]
    access = (await _caller(request, recording_id)).access
    if access is None:
        raise unauthorized("a class's join token does not open its recordings: send a replay token")
    meta = _meta(request, recording_id)
    require_permitted(meta, access)
    return web.json_response(status(request, recording_id, meta, access))


async def publish(request: web.Request) -> web.Response:
    recording_id = request.match_info["recording_id"]
    meta = await _as_host(request, recording_id)
    options = msgspec.to_builtins(await body_of(request, PublishOptions))
    if meta.get("state") == "recording":
        raise ApiError(409, "conflict", "stop the recording first")
    recorder = request.app[RECORDER]
    visibility = options.pop("visibility", meta.get("visibility", "private"))
    anonymous = options.pop("anonymous_viewing", meta.get("anonymous_viewing", False))
    shared = sharing.share(meta, visibility) | {"anonymous_viewing": anonymous}
    recorder.store.update(recording_id, **shared)
    build = DEFAULT_OPTIONS | meta.get("options", {}) | options
    await recorder.publisher.set_options(recording_id, build)
    await recorder.publisher.start(recording_id)
    meta = recorder.store.load(recording_id) or meta
    return web.json_response(status(request, recording_id, meta, ADMIN), status=202)


async def share(request: web.Request) -> web.Response:
    """A share link: whoever opens it gives a name and watches, while visibility is `link`."""
    recording_id = request.match_info["recording_id"]
    meta = await _as_host(request, recording_id)
    spec = await body_of(request, ShareOptions)
    settings = request.app[SETTINGS]
    generation = sharing.generation(meta)
    invite = mint_replay_invite(settings.secret, recording_id, generation, spec.ttl_s)
    body = {
        "link": f"{settings.base_url}/replay/{recording_id}#invite={invite}",
        "visibility": meta.get("visibility", "private"),
        "expires_at": int(time.time()) + spec.ttl_s,
    }
    return web.json_response(body, status=201)


async def create_token(request: web.Request) -> web.Response:
    """The admin mints replay tokens for anyone; staff trade their join token for their own."""
    recording_id = request.match_info["recording_id"]
    who = await _caller(request, recording_id)
    meta = _meta(request, recording_id, who)
    settings = request.app[SETTINGS]
    role: ReplayRole
    if who.admin:
        spec = await body_of(request, NewReplayToken)
        user_id, name, role, ttl = spec.user_id, spec.name, spec.role, spec.ttl_s
    elif who.joined is not None and (staff := who.staff_role(meta)) is not None:
        user_id, name, ttl = who.joined.user_id, who.joined.name, REPLAY_TTL_S
        role = "host" if staff == "host" else "moderator"
    else:
        raise ApiError(403, "forbidden", "only the admin or the class's staff mint replay tokens")
    token = mint_replay(settings.secret, recording_id, user_id, name, role, ttl)
    link = f"{settings.base_url}/replay/{recording_id}#token={token}"
    return web.json_response({"token": token, "link": link}, status=201)


async def join_by_share_link(request: web.Request) -> web.Response:
    """Trade a share link's key and a display name for a replay token."""
    recording_id = request.match_info["recording_id"]
    spec = await body_of(request, JoinByShareLink)
    limiter = request.app[REPLAY_JOINS]
    # The viewer's own address behind a trusted proxy, not the proxy's for everyone.
    address = client_address(request, request.app[GATEWAY].admission.proxies)
    _limit(limiter.allow(address, "address"))
    limiter.forget(address)  # kept only while it refills
    settings = request.app[SETTINGS]
    try:
        generation = verify_replay_invite(settings.secret, spec.invite, recording_id)
    except TokenError as exc:
        raise unauthorized(str(exc)) from exc
    # Only genuine links get a bucket: made-up ones cannot fill the limiter.
    link = hashlib.sha256(spec.invite.encode()).hexdigest()[:32]
    _limit(limiter.allow(link, "invite"))
    limiter.forget(link)
    meta = _meta(request, recording_id)
    if meta.get("visibility") != "link" or generation != sharing.generation(meta):
        raise ApiError(403, "forbidden", "this recording is not shared by this link (any more)")
    if spec.name is not None:
        name, guest = spec.name, False
    elif sharing.anonymous_viewing(meta):
        name, guest = GUEST_NAME, True
    else:
        raise ApiError(403, "name_required", "give a name to watch this recording")
    token = mint_replay(
        settings.secret, recording_id, new_user_id(), name, "viewer", link=generation, guest=guest
    )
    return web.json_response({"token": token}, status=201)


def _limit(allowed: bool) -> None:
    if not allowed:
        error = ApiError(429, "rate_limited", "too many joins; wait a little and try again")
        error.response.headers["Retry-After"] = "5"
        raise error


async def get_file(request: web.Request) -> web.FileResponse:
    recording_id, name = request.match_info["recording_id"], request.match_info["name"]
    if "sig" in request.query:
        access: Access | None = signed_access(request, recording_id, name)
    else:
        access = (await _caller(request, recording_id)).access
    if access is None:
        raise unauthorized("send a replay token, or use the file links of the manifest")
    meta = _meta(request, recording_id)
    require_permitted(meta, access)
    store = request.app[RECORDER].store
    path = store.published_file(recording_id, name)
    if path is None or (access.grant != "staff" and meta.get("state") != "published"):
        raise ApiError(404, "not_found", "no such file in the published recording")
    # aiohttp answers Range requests (206) itself, which browsers need to seek.
    return web.FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})


async def delete(request: web.Request) -> web.Response:
    recording_id = request.match_info["recording_id"]
    if not await _organizer_manages(request, recording_id):
        require_admin(request)
    meta = _meta(request, recording_id)
    if meta.get("state") in ("recording", "publishing"):
        raise ApiError(409, "conflict", f"the recording is {meta['state']}")
    request.app[RECORDER].store.delete(recording_id)
    return web.json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    app[REPLAY_JOINS] = RateLimiter(JOIN_RATES)
    app.router.add_get("/api/recordings", list_recordings)
    app.router.add_get("/api/recordings/{recording_id}", get_recording)
    app.router.add_post("/api/recordings/{recording_id}/publish", publish)
    app.router.add_post("/api/recordings/{recording_id}/share", share)
    app.router.add_post("/api/recordings/{recording_id}/tokens", create_token)
    app.router.add_post("/api/recordings/{recording_id}/join", join_by_share_link)
    app.router.add_get("/api/recordings/{recording_id}/files/{name}", get_file)
    app.router.add_delete("/api/recordings/{recording_id}", delete)
