"""Calling a platform's services: OAuth 2 tokens, line items and scores (AGS), rosters (NRPS).

Tokens come from the platform's token endpoint by the client-credentials
grant, the tool authenticating with a JWT assertion signed by its own key
(RFC 7523, as the 1EdTech Security Framework asks). A token is reused for
its scopes until shortly before it expires, and forgotten when a service
answers 401.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
import jwt
import msgspec

from lti.platforms import Platform, Tool

TIMEOUT_S = 15.0
MAX_BODY = 4 * 1024 * 1024
MAX_PAGES = 50
"""Roster pages followed at most (a course of tens of thousands)."""
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEMBERS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LINEITEM_TAG = "classroom-quiz"


class ServiceError(Exception):
    """A platform's service failed; `status` is its HTTP answer, None if there was none."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TokenAnswer(msgspec.Struct):
    access_token: str
    expires_in: int = 3600


class Tokens:
    def __init__(
        self,
        tool: Tool,
        http: Callable[[], aiohttp.ClientSession],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tool = tool
        self.http = http
        self.clock = clock
        self._held: dict[tuple[str, tuple[str, ...]], tuple[str, float]] = {}

    async def token(self, platform: Platform, scopes: Sequence[str]) -> str:
        key = (platform.id, tuple(sorted(scopes)))
        held = self._held.get(key)
        if held is not None and held[1] > self.clock():
            return held[0]
        answer = await self._ask(platform, key[1])
        self._held[key] = (answer.access_token, self.clock() + max(0, answer.expires_in - 30))
        return answer.access_token

    def forget(self, platform: Platform) -> None:
        for key in [k for k in self._held if k[0] == platform.id]:
            del self._held[key]

    async def _ask(self, platform: Platform, scopes: tuple[str, ...]) -> TokenAnswer:
        now = int(self.clock())
        key = await self.tool.signing_key(now * 1000)
        assertion = jwt.encode(
            {
                "iss": platform.client_id,
                "sub": platform.client_id,
                "aud": platform.token_audience,
                "iat": now,
                "exp": now + 300,
                "jti": secrets.token_urlsafe(16),
            },
            key.private_key(),
            algorithm="RS256",
            headers={"kid": key.kid},
        )
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": " ".join(scopes),
        }
        status, body, _ = await call(self.http(), "POST", platform.token_url, form=form)
        if status != 200:
            raise ServiceError(f"the token endpoint answered HTTP {status}", status)
        try:
            return msgspec.json.decode(body, type=TokenAnswer)
        except msgspec.DecodeError as exc:
            raise ServiceError(f"the token endpoint's answer is not valid: {exc}") from exc


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    token: str | None = None,
    *,
    form: dict[str, str] | None = None,
    json: bytes | None = None,
    content_type: str = "application/json",
    accept: str = "application/json",
) -> tuple[int, bytes, str]:
    """One request: (status, body, the `next` page's URL from the Link header or "")."""
    headers = {"Accept": accept}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data: Any = None
    if form is not None:
        data = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json is not None:
        data = json
        headers["Content-Type"] = content_type
    try:
        async with http.request(
            method,
            url,
            data=data,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
        ) as resp:
            body = await resp.content.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise ServiceError(f"{urlsplit(url).path}: the answer is too large", resp.status)
            return resp.status, body, _next_page(resp.headers.get("Link", ""))
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ServiceError(f"{urlsplit(url).netloc}: {exc or type(exc).__name__}") from exc


def _next_page(link: str) -> str:
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link)
    return match[1] if match else ""


def scores_url(lineitem: str) -> str:
    """A line item's scores endpoint: `/scores` after its path, before its query."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


async def post_score(
    http: aiohttp.ClientSession, token: str, lineitem: str, score: dict[str, Any]
) -> int:
    status, _, _ = await call(
        http,
        "POST",
        scores_url(lineitem),
        token,
        json=msgspec.json.encode(score),
        content_type=SCORE_TYPE,
    )
    return status


class LineItem(msgspec.Struct):
    id: str
    resourceLinkId: str | None = None  # the spec's name
    tag: str | None = None


async def find_or_create_lineitem(
    http: aiohttp.ClientSession,
    token: str,
    lineitems: str,
    resource_link_id: str,
    label: str,
    maximum: float,
) -> str:
    """The tool's line item of a resource link: found by its tag, made if there is none."""
    parts = urlsplit(lineitems)
    query = "&".join(
        q
        for q in (
            parts.query,
            urlencode({"resource_link_id": resource_link_id, "tag": LINEITEM_TAG}),
        )
        if q
    )
    status, body, _ = await call(
        http, "GET", urlunsplit(parts._replace(query=query)), token, accept=LINEITEMS_TYPE
    )
    if status != 200:
        raise ServiceError(f"the line items answered HTTP {status}", status)
    for item in msgspec.json.decode(body, type=list[LineItem]):
        if item.tag == LINEITEM_TAG and item.resourceLinkId in (None, resource_link_id):
            return item.id
    new = {
        "scoreMaximum": maximum,
        "label": label,
        "resourceLinkId": resource_link_id,
        "tag": LINEITEM_TAG,
    }
    status, body, _ = await call(
        http,
        "POST",
        lineitems,
        token,
        json=msgspec.json.encode(new),
        content_type=LINEITEM_TYPE,
        accept=LINEITEM_TYPE,
    )
    if status not in (200, 201):
        raise ServiceError(f"making a line item answered HTTP {status}", status)
    return msgspec.json.decode(body, type=LineItem).id


class RosterEntry(msgspec.Struct):
    user_id: str
    roles: list[str] = []
    status: str = "Active"
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None


class _Page(msgspec.Struct):
    members: list[RosterEntry]


async def fetch_roster(http: aiohttp.ClientSession, token: str, url: str) -> list[RosterEntry]:
    """Every member of the course, following the `next` pages."""
    members: list[RosterEntry] = []
    origin = urlsplit(url).netloc
    for _ in range(MAX_PAGES):
        status, body, following = await call(http, "GET", url, token, accept=MEMBERS_TYPE)
        if status != 200:
            raise ServiceError(f"the roster answered HTTP {status}", status)
        try:
            members += msgspec.json.decode(body, type=_Page).members
        except msgspec.DecodeError as exc:
            raise ServiceError(f"the roster is not valid: {exc}") from exc
        if not following or urlsplit(following).netloc != origin:
            break  # the last page (a next page elsewhere is not followed)
        url = following
    return members
