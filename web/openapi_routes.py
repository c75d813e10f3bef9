"""The REST routes as web/openapi.py describes them: each with its schemas, its answers and
its errors, from the msgspec structs the handlers use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

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
    "name": r"^[A-Za-z0-9_-]{1,64}\.(json|vtt|mkv|webm|webp|mp4)$",
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
