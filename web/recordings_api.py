"""Recordings over HTTP: list, status and manifest, publish, files (with Range), delete.

A recording is addressed by its opaque id alone, like an unlisted video:
whoever has the replay link may watch. Listing, publishing and deleting take
the admin key. Only ids and file names that match strict patterns reach the
filesystem.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import msgspec
from aiohttp import web

from recorder.store import RECORDING_ID
from web.api import ApiError, body_of, require_admin
from web.keys import RECORDER


class PublishOptions(msgspec.Struct, forbid_unknown_fields=True):
    pseudonyms: bool = False
    trim_start_ms: Annotated[int, msgspec.Meta(ge=0)] | None = None
    trim_end_ms: Annotated[int, msgspec.Meta(ge=0)] | None = None


def _id(request: web.Request) -> str:
    recording_id = request.match_info["recording_id"]
    store = request.app[RECORDER].store
    if not RECORDING_ID.match(recording_id) or not store.exists(recording_id):
        raise ApiError(404, "not_found", "no such recording")
    return recording_id


def status(request: web.Request, recording_id: str) -> dict[str, Any]:
    store = request.app[RECORDER].store
    meta = store.load(recording_id) or {}
    manifest_file = store.published_file(recording_id, "manifest.json")
    manifest = json.loads(manifest_file.read_bytes()) if manifest_file else None
    keys = ("id", "class_id", "title", "started_at", "stopped_at", "state", "stage", "percent")
    return {k: meta.get(k) for k in keys} | {"error": meta.get("error"), "manifest": manifest}


async def list_recordings(request: web.Request) -> web.Response:
    require_admin(request)
    store = request.app[RECORDER].store
    return web.json_response({"recordings": [status(request, r) for r in store.ids()]})


async def get_recording(request: web.Request) -> web.Response:
    return web.json_response(status(request, _id(request)))


async def publish(request: web.Request) -> web.Response:
    require_admin(request)
    recording_id = _id(request)
    options = await body_of(request, PublishOptions)
    recorder = request.app[RECORDER]
    meta = recorder.store.load(recording_id) or {}
    if meta.get("state") == "recording":
        raise ApiError(409, "conflict", "stop the recording first")
    recorder.publisher.set_options(recording_id, msgspec.to_builtins(options))
    recorder.publisher.start(recording_id)
    return web.json_response(status(request, recording_id), status=202)


async def get_file(request: web.Request) -> web.FileResponse:
    recording_id = _id(request)
    path = request.app[RECORDER].store.published_file(recording_id, request.match_info["name"])
    if path is None:
        raise ApiError(404, "not_found", "no such file in the published recording")
    # aiohttp answers Range requests (206) itself, which browsers need to seek.
    return web.FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})


async def delete(request: web.Request) -> web.Response:
    require_admin(request)
    recording_id = _id(request)
    meta = request.app[RECORDER].store.load(recording_id) or {}
    if meta.get("state") in ("recording", "publishing"):
        raise ApiError(409, "conflict", f"the recording is {meta['state']}")
    request.app[RECORDER].store.delete(recording_id)
    return web.json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/recordings", list_recordings)
    app.router.add_get("/api/recordings/{recording_id}", get_recording)
    app.router.add_post("/api/recordings/{recording_id}/publish", publish)
    app.router.add_get("/api/recordings/{recording_id}/files/{name}", get_file)
    app.router.add_delete("/api/recordings/{recording_id}", delete)
