"""`GET /api/openapi.json`: an OpenAPI 3.1 description of every REST route, and `/api/docs`.

One source: request bodies and query strings are described from the msgspec
structs the handlers decode them with, answers from the structs of
web/schemas.py, all through `msgspec.json.schema_components`. `ROUTES`
lists every route; a test checks it against the application's router.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Literal

import msgspec
from aiohttp import web

from classroom.replay_report import Digest, RecordingReport
from hooks.service import DeliveryLog
from lti.platforms import NewPlatform, Platform
from lti.roster import RosteredReport
from lti.service import ChoiceOptions, Placed, Placing
from web import schemas as s
from web.api import JoinByInvite, NewToken
from web.console_api import ClassesQuery, LinksRequest, NewClass, RosterQuery, RosterRequest
from web.hooks_api import DeliveriesQuery
from web.lti_api import KeySet, LaunchForm, LoginForm, PlatformList, ToolUrls
from web.pages import STATIC
from web.polls_api import PollsQuery
from web.recordings_api import (
    JoinByShareLink,
    NewReplayToken,
    PublishOptions,
    ShareOptions,
    SignedFileQuery,
)
from web.replay_api import DigestQuery, FeedLink, FeedLinkOptions
from web.reports_api import ReportQuery
from web.slides_api import UploadQuery

Auth = Literal["none", "admin", "bearer", "bearer_or_signed"]
Answer = type[msgspec.Struct] | str | None
"""A struct (JSON), a media type, or None (no content: a redirect)."""

ID_PATTERN = "^[A-Za-z0-9_-]{1,64}$"
PATH_PATTERNS = {
    "class_id": ID_PATTERN,
    "recording_id": ID_PATTERN,
    "name": r"^[A-Za-z0-9_-]{1,64}\.(json|vtt|mkv|webm|webp)$",
    "deck_id": "^d[0-9a-f]{16}$",
    "page": "^[0-9]{1,4}$",
    "choice_id": r"^[A-Za-z0-9_-]{16,64}$",
    "platform_id": r"^[0-9a-f]{12}$",
}
ERRORS = {
    307: "the class is hosted by another node: the same request there (cluster)",
    400: "the request does not match its schema",
    401: "no credentials, or invalid ones",
    403: "the credentials do not allow this (or an invite made all the identities it may)",
    404: "no such class, recording or file",
    409: "not in this state (LTI: a class no instructor opened yet, a replay not shared)",
    413: "the body is too large (16 KiB; a roster 512 KiB; an upload: its cap)",
    415: "the upload is not a PDF",
    429: "too many requests: wait `Retry-After` seconds",
    503: "the journal (or the LTI store) cannot be read now, or (health) Redis is unreachable",
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    tag: str
    auth: Auth = "none"
    answer: Answer = "application/json"
    status: int = 200
    body: type[msgspec.Struct] | None = None
    body_required: bool = True
    query: type[msgspec.Struct] | None = None
    raw_body: str | None = None
    """The body's media type when it is a file, not JSON (a PDF is sent as bytes)."""
    errors: tuple[int, ...] = ()
    also: tuple[tuple[int, Answer], ...] = ()
    """Other successful answers (a CSV form, a partial file)."""
    form: bool = False
    """The body is a form (application/x-www-form-urlencoded), not JSON."""
    page: bool = False
    """A browser's route: errors are small HTML pages, not JSON."""


CLASS = "Classes"
REC = "Recordings"
OPS = "Operations"
LTI = "LTI"
LAUNCH_ERRORS = (400, 401, 403, 404, 409, 413, 429, 503)
BODY_ERRORS = (400, 413)

LTI_ROUTES = (
    Route("get", "/.well-known/jwks.json", "The LTI tool's public keys", LTI, answer=KeySet),
    Route(
        "get",
        "/lti/login",
        "LTI: a platform's login initiation (redirects to the platform)",
        LTI,
        answer=None,
        status=302,
        query=LoginForm,
        errors=LAUNCH_ERRORS,
        page=True,
    ),
    Route(
        "post",
        "/lti/login",
        "LTI: a platform's login initiation, posted",
        LTI,
        answer=None,
        status=302,
        body=LoginForm,
        form=True,
        errors=LAUNCH_ERRORS,
        page=True,
    ),
    Route(
        "post",
        "/lti/launch",
        "LTI: a launch (redirects to the class, the replay, or the deep-linking page)",
        LTI,
        answer=None,
        status=303,
        body=LaunchForm,
        form=True,
        errors=LAUNCH_ERRORS,
        page=True,
    ),
    Route(
        "get",
        "/lti/deep-link/{choice_id}",
        "LTI: the page to place a class or a replay in a course",
        LTI,
        answer="text/html",
        errors=(400, 404, 503),
        page=True,
    ),
    Route(
        "get",
        "/lti/deep-link/{choice_id}/options",
        "LTI: what the deep-linking page offers",
        LTI,
        answer=ChoiceOptions,
        errors=(404, 503),
    ),
    Route(
        "post",
        "/lti/deep-link/{choice_id}",
        "LTI: place the choice; the signed answer to post to the platform",
        LTI,
        answer=Placed,
        body=Placing,
        errors=(*BODY_ERRORS, 403, 404, 503),
    ),
    Route(
        "get",
        "/api/lti/tool",
        "LTI: the URLs to register the tool with",
        LTI,
        "admin",
        ToolUrls,
        errors=(401, 403, 503),
    ),
    Route(
        "get",
        "/api/lti/platforms",
        "LTI: the registered platforms",
        LTI,
        "admin",
        PlatformList,
        errors=(401, 403, 503),
    ),
    Route(
        "post",
        "/api/lti/platforms",
        "LTI: register a platform (again: update it)",
        LTI,
        "admin",
        Platform,
        201,
        NewPlatform,
        errors=(*BODY_ERRORS, 401, 403, 503),
    ),
    Route(
        "delete",
        "/api/lti/platforms/{platform_id}",
        "LTI: remove a platform",
        LTI,
        "admin",
        s.Done,
        errors=(401, 403, 404, 503),
    ),
)

ROUTES = (
    Route("get", "/healthz", "Health of this node", OPS, answer=s.Health, also=((503, s.Health),)),
    Route("get", "/metrics", "Prometheus metrics", OPS, answer="text/plain"),
    Route("get", "/api/info", "Version and wire format", OPS, answer=s.Info),
    Route("get", "/api/openapi.json", "This description", OPS),
    Route("get", "/api/docs", "This description, rendered", OPS, answer="text/html"),
    Route(
        "get",
        "/api/webhooks/deliveries",
        "The webhook delivery log, newest first",
        OPS,
        "admin",
        DeliveryLog,
        query=DeliveriesQuery,
        errors=(400, 401, 403),
    ),
    Route(
        "post",
        "/api/classes",
        "Create a class (the admin, or an organizer)",
        CLASS,
        "bearer",
        s.NewClassAnswer,
        201,
        NewClass,
        errors=(*BODY_ERRORS, 401),
    ),
    Route(
        "get",
        "/api/classes",
        "The classes the caller manages: upcoming, live, ended",
        CLASS,
        "bearer",
        s.ClassList,
        query=ClassesQuery,
        errors=(400, 401),
    ),
    Route(
        "post",
        "/api/classes/{class_id}/links",
        "Fresh host and invite links",
        CLASS,
        "bearer",
        s.Links,
        201,
        LinksRequest,
        body_required=False,
        errors=(*BODY_ERRORS, 401, 403, 404),
    ),
    Route(
        "post",
        "/api/classes/{class_id}/roster",
        "A personal join link for each person of a roster (JSON, or CSV)",
        CLASS,
        "bearer",
        s.RosterLinks,
        201,
        RosterRequest,
        query=RosterQuery,
        errors=(*BODY_ERRORS, 401, 403, 404),
        also=((201, "text/csv"),),
    ),
    Route(
        "post",
        "/api/classes/{class_id}/end",
        "End the class",
        CLASS,
        "bearer",
        s.Done,
        errors=(307, 401, 403, 404, 409, 503),
    ),
    Route(
        "get", "/api/classes/{class_id}", "About a class", CLASS, answer=s.ClassAbout, errors=(404,)
    ),
    Route(
        "post",
        "/api/classes/{class_id}/tokens",
        "Mint a join token",
        CLASS,
        "admin",
        s.TokenLink,
        201,
        NewToken,
        errors=(*BODY_ERRORS, 401, 403, 404),
    ),
    Route(
        "post",
        "/api/classes/{class_id}/join",
        "Trade an invite and a name for a join token",
        CLASS,
        answer=s.Joined,
        status=201,
        body=JoinByInvite,
        errors=(*BODY_ERRORS, 401, 403, 404, 429),
    ),
    Route(
        "get",
        "/api/classes/{class_id}/polls.csv",
        "Every poll's ballots as CSV (or one poll's)",
        CLASS,
        "bearer",
        "text/csv",
        query=PollsQuery,
        errors=(307, 401, 403, 404),
    ),
    Route(
        "get",
        "/api/classes/{class_id}/report",
        "The class report (JSON, or attendance as CSV); with the course's roster, from LTI",
        CLASS,
        "bearer",
        RosteredReport,
        query=ReportQuery,
        errors=(400, 401, 403, 404, 503),
        also=((200, "text/csv"),),
    ),
    Route(
        "get",
        "/api/classes/{class_id}/xapi",
        "The class as xAPI statements",
        CLASS,
        "bearer",
        s.Statements,
        errors=(401, 403, 404, 503),
    ),
    Route(
        "get",
        "/api/recordings",
        "Every recording (for an organizer, those of the classes they created)",
        REC,
        "bearer",
        s.RecordingList,
        errors=(401, 403),
    ),
    Route(
        "get",
        "/api/recordings/{recording_id}",
        "A recording's status and manifest",
        REC,
        "bearer",
        s.RecordingStatus,
        errors=(401, 403, 404),
    ),
    Route(
        "post",
        "/api/recordings/{recording_id}/publish",
        "Set who may watch, and build the replay package",
        REC,
        "bearer",
        s.RecordingStatus,
        202,
        PublishOptions,
        errors=(*BODY_ERRORS, 401, 403, 404, 409),
    ),
    Route(
        "post",
        "/api/recordings/{recording_id}/share",
        "Make a share link",
        REC,
        "bearer",
        s.ShareLink,
        201,
        ShareOptions,
        errors=(*BODY_ERRORS, 401, 403, 404),
    ),
    Route(
        "post",
        "/api/recordings/{recording_id}/tokens",
        "Mint a replay token (the admin, for anyone; staff, for themselves, without a body)",
        REC,
        "bearer",
        s.TokenLink,
        201,
        NewReplayToken,
        body_required=False,
        errors=(*BODY_ERRORS, 401, 403, 404),
    ),
    Route(
        "post",
        "/api/recordings/{recording_id}/join",
        "Trade a share link and a name for a replay token",
        REC,
        answer=s.TokenAnswer,
        status=201,
        body=JoinByShareLink,
        errors=(*BODY_ERRORS, 401, 403, 404, 429),
    ),
    Route(
        "get",
        "/api/recordings/{recording_id}/files/{name}",
        "A file of the replay package (HTTP Range supported)",
        REC,
        "bearer_or_signed",
        "*/*",
        query=SignedFileQuery,
        errors=(401, 403, 404),
        also=((206, "*/*"),),
    ),
    Route(
        "post",
        "/api/classes/{class_id}/slides",
        "Upload a PDF as slides (a host's or presenter's join token); it renders in the background",
        CLASS,
        "bearer",
        s.DeckProgress,
        202,
        query=UploadQuery,
        raw_body="application/octet-stream",
        errors=(307, 400, 401, 403, 404, 413, 415, 503),
    ),
    Route(
        "get",
        "/api/classes/{class_id}/slides/{deck_id}",
        "An uploaded deck's rendering progress",
        CLASS,
        "bearer",
        s.DeckProgress,
        errors=(307, 401, 404),
    ),
    Route(
        "get",
        "/api/classes/{class_id}/slides/{deck_id}/pages/{page}",
        "A page of a deck as an image (to class members, once it was shown)",
        CLASS,
        "bearer",
        "image/webp",
        errors=(307, 401, 404),
    ),
    Route(
        "get",
        "/api/recordings/{recording_id}/report",
        "The replay's report: viewers, what they watched, coverage, both cohorts' answers",
        REC,
        "bearer",
        RecordingReport,
        errors=(401, 403, 404, 503),
    ),
    Route(
        "get",
        "/api/recordings/{recording_id}/digest",
        "What happened in the replay since a moment (JSON, or an Atom feed)",
        REC,
        "bearer_or_signed",
        Digest,
        query=DigestQuery,
        errors=(400, 401, 403, 404, 503),
        also=((200, "application/atom+xml"),),
    ),
    Route(
        "post",
        "/api/recordings/{recording_id}/digest/link",
        "A signed URL of the Atom digest, for feed readers that send no Authorization header",
        REC,
        "bearer",
        FeedLink,
        201,
        FeedLinkOptions,
        body_required=False,
        errors=(*BODY_ERRORS, 401, 403, 404),
    ),
    Route(
        "get",
        "/api/recordings/{recording_id}/xapi",
        "The replay's viewing and answers as xAPI statements",
        REC,
        "bearer",
        s.Statements,
        errors=(401, 403, 404, 503),
    ),
    Route(
        "delete",
        "/api/recordings/{recording_id}",
        "Delete a recording",
        REC,
        "bearer",
        s.Done,
        errors=(401, 403, 404, 409),
    ),
    *LTI_ROUTES,
)


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
