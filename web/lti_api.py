"""The LTI 1.3 tool over HTTP: its key set, login and launch, deep linking, registrations.

Browser-facing (a platform sends the browser here; answers are redirects or
small pages):

    GET|POST /lti/login                 OIDC third-party login initiation
    POST     /lti/launch                the launch (id_token and state, form-posted)
    GET      /lti/deep-link/{id}        the page to place a class or a replay
    GET      /lti/deep-link/{id}/options, POST /lti/deep-link/{id}   its data, its choice

For platforms and the operator (JSON):

    GET /.well-known/jwks.json          the tool's public keys
    GET /api/lti/tool                   the URLs to give a platform (admin)
    GET|POST /api/lti/platforms, DELETE /api/lti/platforms/{platform_id}   (admin)
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

import msgspec
from aiohttp import web

from classroom.reports import ClassReport
from lti.oidc import LOGIN_TTL_S, LaunchError
from lti.platforms import NewPlatform, Platform, PlatformError
from lti.roster import RosteredReport, with_roster
from lti.service import (
    JWKS_PATH,
    LAUNCH_PATH,
    LOGIN_PATH,
    ChoiceOptions,
    LtiConfig,
    LtiTool,
    Placing,
)
from lti.store import StoreError
from signaling.addresses import client_address, local
from signaling.runtime import now_ms
from web import pages
from web.api import ApiError, body_of, require_admin
from web.keys import GATEWAY, RECORDER, REGISTRY, REPLAYS, SETTINGS
from web.reports_api import REPORT_EXTENSION

log = logging.getLogger(__name__)

LTI = web.AppKey("lti", LtiTool)
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_FORM = 128 * 1024
CHOICE_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class ToolUrls(msgspec.Struct):
    """What to give a platform when registering the tool."""

    login_url: str
    launch_url: str
    """Also the redirect URI, the target link URI and the deep linking URL."""
    jwks_url: str
    key_id: str


class PlatformList(msgspec.Struct):
    platforms: list[Platform]


class PublicKey(msgspec.Struct):
    """An RSA public key (RFC 7517)."""

    kty: Literal["RSA"]
    n: str
    e: str
    kid: str
    alg: Literal["RS256"]
    use: Literal["sig"]


class KeySet(msgspec.Struct):
    keys: list[PublicKey]


Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]


class LoginForm(msgspec.Struct):
    """A platform's login initiation (query or form)."""

    iss: Text
    login_hint: Text
    target_link_uri: Text
    client_id: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    lti_message_hint: Annotated[str, msgspec.Meta(max_length=4096)] | None = None
    lti_deployment_id: Annotated[str, msgspec.Meta(max_length=255)] | None = None


class LaunchForm(msgspec.Struct):
    """The platform's form post after authentication."""

    id_token: Annotated[str, msgspec.Meta(min_length=1, max_length=65536)]
    state: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


async def lti_tool(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context, after the classes': the tool, its scores (of classes and replays),
    and the reports' roster."""
    settings, registry = app[SETTINGS], app[REGISTRY]
    config = LtiConfig(
        settings.data_dir,
        settings.base_url,
        settings.secret,
        settings.redis_url,
        settings.node_base_url,
        settings.lease_ttl_ms,
        settings.lti_retry_delays_s,
    )
    tool = LtiTool(config, registry.journal, registry, app[RECORDER].store)
    await tool.start()
    app[LTI] = tool
    registry.on_runtime.append(tool.grades.attach)
    for runtime in list(registry.runtimes.values()):
        tool.grades.attach(runtime)
    app[REPLAYS].on_runtime.append(tool.grades.attach_replay)

    async def extend(class_id: str, report: ClassReport) -> RosteredReport:
        return with_roster(report, await tool.rosters.for_report(class_id, report))

    app[REPORT_EXTENSION] = extend
    yield
    await tool.close()


def _tool(request: web.Request) -> LtiTool:
    return request.app[LTI]


# -- pages -----------------------------------------------------------------


def page(status: int, title: str, message: str) -> web.Response:
    """A small page that says what happened, in words (every text escaped)."""
    body = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        '<link rel="icon" href="data:,">\n<link rel="stylesheet" href="/static/style.css">\n'
        '</head>\n<body>\n<main class="narrow">\n'
        f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(message)}</p>\n"
        "</main>\n</body>\n</html>\n"
    )
    return web.Response(
        status=status,
        text=body,
        content_type="text/html",
        headers={"Cache-Control": "no-store"},
    )


def refused(exc: LaunchError) -> web.Response:
    title = "Not opened yet" if exc.status == 409 else "This launch cannot go on"
    return page(exc.status, title, str(exc))


async def _params(request: web.Request, schema: type[T]) -> T:
    """A login's or launch's parameters: the query, and a form body if posted."""
    params = {k: v for k, v in request.query.items() if isinstance(v, str)}
    if request.method == "POST":
        if request.content_length is not None and request.content_length > MAX_FORM:
            raise LaunchError("the request is too large", 413)
        if request.content_type != "application/x-www-form-urlencoded":
            raise LaunchError("a form (application/x-www-form-urlencoded) is expected")
        try:
            form = await request.post()
        except ValueError as exc:
            raise LaunchError(f"the form cannot be read: {exc}") from exc
        params |= {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        return msgspec.convert(params, schema)
    except msgspec.ValidationError as exc:
        raise LaunchError(f"the request is not a valid LTI message: {exc}") from exc


async def login(request: web.Request) -> web.StreamResponse:
    settings, gateway = request.app[SETTINGS], request.app[GATEWAY]
    address = client_address(request, gateway.admission.proxies)
    if not local(address):
        allowed = gateway.limiter.allow(("lti", address), "join")
        gateway.limiter.forget(("lti", address))  # kept only while it refills
        if not allowed:
            return page(429, "Too many launches", "Too many launches from your network: wait.")
    try:
        form = await _params(request, LoginForm)
        if not _ours(form.target_link_uri, settings.base_url):
            raise LaunchError(
                f"the target link URI is not on this server ({settings.base_url}): register the "
                "tool with its launch URL, and run the server with --public-url"
            )
        name, value, url = await _tool(request).login(
            form.iss, form.client_id or None, form.login_hint, form.lti_message_hint
        )
    except LaunchError as exc:
        return refused(exc)
    except StoreError as exc:
        return page(503, "Try again in a moment", f"the registrations cannot be read: {exc}")
    response = web.HTTPFound(url)
    secure = settings.base_url.startswith("https://")
    response.set_cookie(
        name,
        value,
        max_age=LOGIN_TTL_S,
        path="/lti/",
        httponly=True,
        secure=secure,
        samesite="None" if secure else "Lax",
    )
    response.headers["Cache-Control"] = "no-store"
    raise response


def _ours(url: str, base_url: str) -> bool:
    return url == base_url or url.startswith(base_url.rstrip("/") + "/")


async def launch(request: web.Request) -> web.StreamResponse:
    try:
        form = await _params(request, LaunchForm)
        location = await _tool(request).launch(form.id_token, form.state, dict(request.cookies))
    except LaunchError as exc:
        log.info("lti: launch refused: %s", exc)
        return refused(exc)
    except StoreError as exc:
        return page(503, "Try again in a moment", f"the registrations cannot be read: {exc}")
    # 303: the browser follows with a GET; the token is in the fragment, never sent anywhere.
    raise web.HTTPSeeOther(location, headers={"Cache-Control": "no-store"})


async def deep_link_page(request: web.Request) -> web.StreamResponse:
    choice_id = request.match_info["choice_id"]
    choice = await _tool(request).choice(choice_id) if _valid_choice(choice_id) else None
    if choice is None:
        return page(404, "This choice has expired", "Start again from the course.")
    origin = _origin(choice.settings.deep_link_return_url)
    if origin is None:
        return page(400, "This launch cannot go on", "the course's return URL is not http(s)")
    # The page posts the signed answer to the platform: its form may go there, nowhere else.
    csp = pages.CSP.replace("form-action 'self'", f"form-action 'self' {origin}")
    return web.FileResponse(
        pages.STATIC / "lti-deeplink.html",
        headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"},
    )


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _valid_choice(choice_id: str) -> bool:
    return bool(CHOICE_ID.match(choice_id))


def _choice_id(request: web.Request) -> str:
    choice_id = request.match_info["choice_id"]
    if not _valid_choice(choice_id):
        raise ApiError(404, "not_found", "no such choice")
    return choice_id


async def deep_link_options(request: web.Request) -> web.Response:
    tool = _tool(request)
    choice = await tool.choice(_choice_id(request))
    if choice is None:
        raise ApiError(404, "not_found", "this choice has expired: start again from the course")
    options: ChoiceOptions = await tool.options(choice)
    return _json(options)


async def deep_link_place(request: web.Request) -> web.Response:
    choice_id = _choice_id(request)
    placing = await body_of(request, Placing)
    try:
        placed = await _tool(request).place(choice_id, placing)
    except LaunchError as exc:
        code = "not_found" if exc.status == 404 else "forbidden"
        raise ApiError(exc.status, code, str(exc)) from exc
    return _json(placed)


# -- JSON for platforms and the operator --------------------------------------


def _json(value: object, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(value),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


async def jwks(request: web.Request) -> web.Response:
    keys = await _tool(request).tool.jwks(now_ms())
    response = _json(keys)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


async def tool_urls(request: web.Request) -> web.Response:
    require_admin(request)
    base = request.app[SETTINGS].base_url
    key = await _tool(request).tool.signing_key(now_ms())
    return _json(ToolUrls(base + LOGIN_PATH, base + LAUNCH_PATH, base + JWKS_PATH, key.kid))


async def list_platforms(request: web.Request) -> web.Response:
    require_admin(request)
    return _json(PlatformList(await _tool(request).tool.platforms()))


async def add_platform(request: web.Request) -> web.Response:
    require_admin(request)
    spec = await body_of(request, NewPlatform)
    try:
        platform = await _tool(request).tool.add_platform(spec, now_ms())
    except PlatformError as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return _json(platform, 201)


async def remove_platform(request: web.Request) -> web.Response:
    require_admin(request)
    if not await _tool(request).tool.remove_platform(request.match_info["platform_id"]):
        raise ApiError(404, "not_found", "no such platform")
    return _json({"ok": True})


def _stored(handler: Handler) -> Handler:
    """A JSON route whose store is away answers 503, as the journal's do."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except StoreError as exc:
            raise ApiError(503, "unavailable", f"the LTI store cannot be read now: {exc}") from exc

    return run


def add_routes(app: web.Application) -> None:
    app.router.add_get(JWKS_PATH, _stored(jwks))
    app.router.add_get(LOGIN_PATH, login)
    app.router.add_post(LOGIN_PATH, login)
    app.router.add_post(LAUNCH_PATH, launch)
    app.router.add_get("/lti/deep-link/{choice_id}", _stored(deep_link_page))
    app.router.add_get("/lti/deep-link/{choice_id}/options", _stored(deep_link_options))
    app.router.add_post("/lti/deep-link/{choice_id}", _stored(deep_link_place))
    app.router.add_get("/api/lti/tool", _stored(tool_urls))
    app.router.add_get("/api/lti/platforms", _stored(list_platforms))
    app.router.add_post("/api/lti/platforms", _stored(add_platform))
    app.router.add_delete("/api/lti/platforms/{platform_id}", _stored(remove_platform))
    app.cleanup_ctx.append(lti_tool)
