"""`GET /api/openapi.json`: an OpenAPI 3.1 description of every REST route, and `/api/docs`.

One source: request bodies and query strings are described from the msgspec
structs the handlers decode them with, answers from the structs of
web/schemas.py, all through `msgspec.json.schema_components`. `ROUTES`
(web/openapi_routes.py) lists every route; a test checks it against the application's
router.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from typing import Any

import msgspec
from aiohttp import web

from web import schemas as s
from web.openapi_routes import ERRORS, PATH_PATTERNS, ROUTES, Answer, Route
from web.pages import STATIC


def document() -> dict[str, Any]:
    structs = {r.answer for r in ROUTES if isinstance(r.answer, type)}
    structs |= {a for r in ROUTES for _, a in r.also if isinstance(a, type)}
    structs |= {t for r in ROUTES for t in (r.body, r.query) if t is not None}
    structs.add(s.ErrorBody)
    ordered = sorted(structs, key=lambda t: t.__name__)
    refs, components = msgspec.json.schema_components(
        ordered, ref_template="#/components/schemas/{name}"
    )
    ref = dict(zip(ordered, refs, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method] = _operation(route, ref, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Classroom server",
            "version": version("classroom-server"),
            "description": "The REST API of the classroom server. The live protocol (Socket.IO)"
            " and every field are described in docs/protocol.md.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The admin key, or a join or replay token",
                }
            },
        },
    }


def _operation(
    route: Route, ref: dict[type, dict[str, Any]], components: dict[str, Any]
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": _operation_id(route),
        "summary": route.summary,
        "tags": [route.tag],
        "responses": _responses(route, ref),
    }
    params = _path_parameters(route.path)
    if route.query is not None:
        params += _query_parameters(components[route.query.__name__])
    if params:
        op["parameters"] = params
    if route.body is not None:
        media = "application/x-www-form-urlencoded" if route.form else "application/json"
        op["requestBody"] = {
            "required": route.body_required,
            "content": {media: {"schema": ref[route.body]}},
        }
    if route.raw_body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {route.raw_body: {"schema": {"type": "string", "format": "binary"}}},
        }
    if route.auth in ("admin", "bearer"):
        op["security"] = [{"bearer": []}]
    elif route.auth == "bearer_or_signed":
        op["security"] = [{"bearer": []}, {}]
    return op


def _responses(route: Route, ref: dict[type, dict[str, Any]]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status, answer in ((route.status, route.answer), *route.also):
        entry = answers.setdefault(str(status), {"description": _described(status)})
        content = _content(answer, ref)
        if content:
            entry.setdefault("content", {}).update(content)
    for status in route.errors:
        answers[str(status)] = {"description": ERRORS[status]}
        if route.page:
            answers[str(status)]["content"] = {"text/html": {"schema": {"type": "string"}}}
            if route.query and status == 400:
                # A query string longer than the request line the server reads (8190 bytes)
                # is refused before any handler, in plain text.
                answers["400"]["content"]["text/plain"] = {"schema": {"type": "string"}}
        elif status != 307:
            answers[str(status)]["content"] = {"application/json": {"schema": ref[s.ErrorBody]}}
    return answers


def _described(status: int) -> str:
    described = {200: "OK", 201: "Created", 202: "Accepted", 206: "Partial content"}
    described |= {302: "To the platform", 303: "To where the launch lands"}
    return described.get(status, "the node is not healthy")


def _content(answer: Answer, ref: dict[type, dict[str, Any]]) -> dict[str, Any]:
    if answer is None:
        return {}
    if isinstance(answer, str):
        schemas: dict[str, dict[str, Any]] = {"application/json": {"type": "object"}, "*/*": {}}
        return {answer: {"schema": schemas.get(answer, {"type": "string"})}}
    return {"application/json": {"schema": ref[answer]}}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": PATH_PATTERNS[name]},
        }
        for name in re.findall(r"{(\w+)}", path)
    ]


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _operation_id(route: Route) -> str:
    words = re.sub(r"[{}]", "", route.path).replace(".", "_").strip("/").split("/")
    return route.method + "".join(w.replace("_", " ").title().replace(" ", "") for w in words)


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[DOCUMENT], content_type="application/json")


async def docs_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "apidocs.html")


DOCUMENT = web.AppKey("openapi", bytes)


def add_routes(app: web.Application) -> None:
    app[DOCUMENT] = msgspec.json.encode(document())
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs_page)
