"""The REST API: health, info, metrics, join tokens and invites (classes: web/console_api.py)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Hashable
from importlib.metadata import version
from typing import Annotated, Any, TypeVar

import msgspec
from aiohttp import web

from classroom.commands import Name, UserId, readable
from classroom.roles import Role
from signaling import invites
from signaling.addresses import client_address, local
from signaling.auth import (
    DEFAULT_TTL_S,
    INVITE_TTL_S,
    TokenError,
    mint,
    mint_invite,
    read_invite,
    verify,
)
from signaling.ratelimit import RateLimiter
from web.keys import GATEWAY, METRICS, REGISTRY, SETTINGS
from web.settings import Settings

MAX_BODY = 16 * 1024
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
T = TypeVar("T")


class NewToken(msgspec.Struct, forbid_unknown_fields=True):
    user_id: UserId
    name: Name
    role: Role
    ttl_s: Annotated[int, msgspec.Meta(ge=60, le=30 * 24 * 3600)] = 6 * 3600


class JoinByInvite(msgspec.Struct, forbid_unknown_fields=True):
    invite: Annotated[str, msgspec.Meta(max_length=4096)]
    name: Name
    token: Annotated[str, msgspec.Meta(max_length=4096)] | None = None
    """The token this invite gave this browser before, even expired: its identity is kept."""


def error(status: int, code: str, message: str) -> web.Response:
    body = {"ok": False, "error": {"code": code, "message": message}}
    return web.json_response(body, status=status)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = error(status, code, message)


async def body_of(request: web.Request, schema: type[T], limit: int = MAX_BODY) -> T:
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "too_large", f"request bodies are at most {limit} bytes")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, "too_large", f"request bodies are at most {limit} bytes")
    try:
        return msgspec.json.decode(raw or b"{}", type=schema)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise ApiError(400, "bad_request", readable(str(exc))) from exc


def require_admin(request: web.Request) -> None:
    key = request.app[SETTINGS].admin_key
    if not key:
        raise ApiError(403, "forbidden", "no admin key is configured on this server")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <admin key>")


def query_of(request: web.Request, schema: type[T]) -> T:
    """The query string, checked against `schema` (values converted from text)."""
    try:
        return msgspec.convert(dict(request.query), schema, strict=False)
    except msgspec.ValidationError as exc:
        raise ApiError(400, "bad_request", readable(str(exc))) from exc


async def existing_class(request: web.Request) -> str:
    class_id = request.match_info["class_id"]
    if not await request.app[REGISTRY].exists(class_id):
        raise ApiError(404, "not_found", "no such class")
    return class_id


@web.middleware
async def api_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except ApiError as exc:
        return exc.response
    return response


async def healthz(request: web.Request) -> web.Response:
    """200 while this node serves normally; 503 while it cannot reach Redis (cluster)."""
    registry = request.app[REGISTRY]
    healthy = registry.ownership.healthy
    body: dict[str, object] = {"ok": healthy, "classes": len(registry.runtimes)}
    if request.app[SETTINGS].redis_url:
        body["redis"] = "ok" if healthy else "unreachable"
    return web.json_response(body, status=200 if healthy else 503)


async def info(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return web.json_response({"version": version("classroom-server"), "wire": settings.wire})


async def metrics(request: web.Request) -> web.Response:
    registry, gauges = request.app[REGISTRY], request.app[METRICS]
    gauges.classes.set(len(registry.runtimes))
    gauges.leases.set(registry.ownership.held())
    gauges.redis_up.set(1 if registry.ownership.healthy else 0)
    body = gauges.render()
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


def host_id(class_id: str) -> str:
    """The user id of a class's host link: its own in each class, the same at every restart."""
    return "h-" + hashlib.sha256(class_id.encode()).hexdigest()[:12]


def links(
    settings: Settings, class_id: str, host_name: str, starts_at: int | None = None
) -> dict[str, str]:
    """A personal host link and an invite link that everyone else shares.

    For a class that starts later (`starts_at`, epoch ms) they last as long
    after its start as they would after now.
    """
    later = max(0, (starts_at or 0) // 1000 - int(time.time()))
    base = f"{settings.base_url}/c/{class_id}"
    host_ttl = DEFAULT_TTL_S + later
    host = mint(settings.secret, class_id, host_id(class_id), host_name, "host", host_ttl)
    invite = mint_invite(settings.secret, class_id, "participant", INVITE_TTL_S + later)
    return {"host": f"{base}#token={host}", "participant": f"{base}#invite={invite}"}


async def get_class(request: web.Request) -> web.Response:
    about = await request.app[REGISTRY].describe(request.match_info["class_id"])
    if about is None:
        raise ApiError(404, "not_found", "no such class")
    return web.json_response(about)


async def create_token(request: web.Request) -> web.Response:
    require_admin(request)
    class_id = await existing_class(request)
    spec = await body_of(request, NewToken)
    settings = request.app[SETTINGS]
    token = mint(settings.secret, class_id, spec.user_id, spec.name, spec.role, spec.ttl_s)
    link = f"{settings.base_url}/c/{class_id}#token={token}"
    return web.json_response({"token": token, "link": link}, status=201)


async def join_by_invite(request: web.Request) -> web.Response:
    """Trade an invite link and a display name for a personal join token.

    Rate-limited per client address and per invite. A browser that redeemed
    this invite before sends the token it got and keeps that identity; a new
    identity is refused once the invite has made as many as it may.
    """
    class_id = await existing_class(request)
    settings, gateway = request.app[SETTINGS], request.app[GATEWAY]
    address = client_address(request, gateway.admission.proxies)
    if not local(address):
        _take(gateway.limiter, address, "join", "too many joins from your network")
        gateway.limiter.forget(address)  # kept only while it refills
    spec = await body_of(request, JoinByInvite)
    try:
        invite = read_invite(settings.secret, spec.invite, class_id)
    except TokenError as exc:
        raise ApiError(401, "unauthorized", str(exc)) from exc
    _take(
        gateway.limiter, ("invite", class_id, invite.id), "invite", "too many joins with this link"
    )
    user_id = _earlier_identity(settings, class_id, invite.id, spec.token)
    if user_id is None:
        if gateway.invite_identities(class_id, invite.id) >= settings.invite_identities:
            raise ApiError(
                403, "full", "this invite link has been used by as many people as it allows"
            )
        user_id = invites.new_user_id(invite)
    token = mint(settings.secret, class_id, user_id, spec.name, invite.role)
    return web.json_response({"token": token, "user_id": user_id}, status=201)


def _take(limiter: RateLimiter, key: Hashable, family: str, message: str) -> None:
    if not limiter.allow(key, family):
        wait = max(1, round(limiter.wait_s(key, family)))
        error = ApiError(429, "rate_limited", f"{message}; retry in {wait} s")
        error.response.headers["Retry-After"] = str(wait)
        raise error


def _earlier_identity(
    settings: Settings, class_id: str, invite_id: str, token: str | None
) -> str | None:
    if token is None:
        return None
    try:
        earlier = verify(settings.secret, token, class_id, allow_expired=True)
    except TokenError:
        return None  # e.g. signed before the secret was rotated: a new identity
    return earlier.user_id if invites.invite_of(earlier.user_id) == invite_id else None


def add_routes(app: web.Application) -> None:
    app.middlewares.append(api_errors)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/info", info)
    app.router.add_get("/api/classes/{class_id}", get_class)
    app.router.add_post("/api/classes/{class_id}/tokens", create_token)
    app.router.add_post("/api/classes/{class_id}/join", join_by_invite)
