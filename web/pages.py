"""The pages the server serves, and the security headers every response carries."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web

STATIC = Path(__file__).parent / "static"
CLASS_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""Class and recording ids: opaque, URL-safe."""

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _secure(response)
        raise
    _secure(response)
    return response


def _secure(response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault(
        "Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self)"
    )


async def classroom_page(request: web.Request) -> web.FileResponse:
    if not CLASS_ID.match(request.match_info["class_id"]):
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / "classroom.html", headers={"Cache-Control": "no-store"})


async def replay_page(request: web.Request) -> web.FileResponse:
    if not CLASS_ID.match(request.match_info["recording_id"]):
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / "replay.html", headers={"Cache-Control": "no-store"})


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/c/{class_id}", classroom_page)
    app.router.add_get("/replay/{recording_id}", replay_page)
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
