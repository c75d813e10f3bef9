"""An LMS platform on loopback, as a real one behaves toward an LTI 1.3 tool.

It has RSA keys of its own, published at a real JWKS endpoint, an OIDC
authorization endpoint that answers a login with an auto-posting form (the
id_token and the state), an OAuth 2 token endpoint that checks the tool's
signed client assertion against the tool's own published keys, AGS line
items and scores endpoints, an NRPS roster in pages, and a deep-linking
return URL that checks the tool's signed response.

Each launch is a message the platform prepares (`message(...)`): who, which
resource link, which roles, and what to get wrong on purpose (a foreign
signature, an unknown key id, another audience, an expired token, another
deployment, a nonce of its choosing).
"""

from __future__ import annotations

import html
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from lti.claims import AGS, DL, LTI, NRPS, SCOPE_LINEITEM, SCOPE_ROSTER, SCOPE_SCORE
from tests.loopback import serve

CLIENT_ID = "classroom-tool"
DEPLOYMENT = "deployment-1"
INSTRUCTOR = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]
TEACHING_ASSISTANT = [
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
]
LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
CONTEXT = {"id": "course-101", "title": "Physics 101", "label": "PHY101"}
FORM_FIELD = re.compile(r'name="(\w+)" value="([^"]*)"')
FORM_ACTION = re.compile(r'action="([^"]+)"')


@dataclass
class Person:
    subject: str
    name: str
    roles: list[str]


@dataclass
class Message:
    """A launch the platform will sign when the browser comes to its authorization endpoint."""

    person: Person
    resource_link: str = "link-1"
    kind: str = "LtiResourceLinkRequest"
    custom: dict[str, str] = field(default_factory=dict)
    deployment: str = DEPLOYMENT
    audience: str | list[str] = CLIENT_ID
    azp: str | None = None
    expires_in: int = 300
    issued_ago: int = 0
    signing_key: rsa.RSAPrivateKey | None = None
    """Sign with this key instead of the platform's (a forged signature)."""
    kid: str | None = None
    nonce: str | None = None
    """Put this nonce in the id_token instead of the login's."""
    lineitem: str | None = None


@dataclass
class Platform:
    tool_url: str = ""
    fail_scores: int = 0
    """Answer 503 to the first score posts."""
    port: int = 0
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    kid: str = ""
    """The key it signs with."""
    published: set[str] = field(default_factory=set)
    messages: dict[str, Message] = field(default_factory=dict)
    people: list[Person] = field(default_factory=list)
    tokens: dict[str, set[str]] = field(default_factory=dict)
    scores: list[dict[str, Any]] = field(default_factory=list)
    score_tries: int = 0
    lineitems: list[dict[str, Any]] = field(default_factory=list)
    deep_links: list[dict[str, Any]] = field(default_factory=list)
    jwks_fetches: int = 0
    assertions: list[dict[str, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return self.url

    def registration(self) -> dict[str, Any]:
        """What the operator registers (`classroom lti add-platform`, or the REST route)."""
        return {
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "deployments": [DEPLOYMENT],
            "auth_url": f"{self.url}/auth",
            "token_url": f"{self.url}/token",
            "jwks_url": f"{self.url}/jwks",
            "name": "Test LMS",
        }

    def new_key(self, publish: bool = True) -> str:
        kid = f"platform-{secrets.token_hex(4)}"
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.add(kid)
        return kid

    def rotate(self) -> str:
        """Sign with a new key, published beside the old ones."""
        self.kid = self.new_key()
        return self.kid

    async def start(self) -> None:
        self.rotate()
        app = web.Application()
        app.router.add_get("/jwks", self._jwks)
        app.router.add_get("/auth", self._auth)
        app.router.add_post("/token", self._token)
        app.router.add_get("/course/{hint}", self._course_link)
        app.router.add_get("/lineitems", self._lineitems)
        app.router.add_post("/lineitems", self._new_lineitem)
        app.router.add_post("/lineitems/{item}/scores", self._score)
        app.router.add_get("/memberships", self._memberships)
        app.router.add_post("/deep-link-return", self._deep_link_return)
        self._runner, self.port = await serve(app, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- launches --------------------------------------------------------------

    def message(self, person: Person, **options: Any) -> str:
        """Prepare a launch; returns the login hint (and message hint) that names it."""
        hint = secrets.token_hex(6)
        self.messages[hint] = Message(person, **options)
        if person not in self.people:
            self.people.append(person)
        return hint

    def login_url(self, hint: str) -> str:
        query = {
            "iss": self.issuer,
            "login_hint": hint,
            "target_link_uri": f"{self.tool_url}/lti/launch",
            "lti_message_hint": hint,
            "client_id": CLIENT_ID,
            "lti_deployment_id": DEPLOYMENT,
        }
        return f"{self.tool_url}/lti/login?{urlencode(query)}"

    async def _course_link(self, request: web.Request) -> web.Response:
        """The course page's link to the tool: the browser starts the login."""
        raise web.HTTPFound(self.login_url(request.match_info["hint"]))

    async def _auth(self, request: web.Request) -> web.Response:
        """The OIDC authorization endpoint: checks the request, answers with a form post."""
        q = request.query
        for name, expected in (
            ("scope", "openid"),
            ("response_type", "id_token"),
            ("response_mode", "form_post"),
            ("prompt", "none"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", f"{self.tool_url}/lti/launch"),
        ):
            if q.get(name) != expected:
                return web.Response(status=400, text=f"bad {name}: {q.get(name)!r}")
        msg = self.messages.get(q.get("login_hint", ""))
        if msg is None or q.get("lti_message_hint") != q.get("login_hint"):
            return web.Response(status=400, text="unknown login hint")
        token = self.id_token(msg, q["nonce"])
        return web.Response(
            text=auto_post(q["redirect_uri"], {"id_token": token, "state": q["state"]}),
            content_type="text/html",
        )

    def id_token(self, msg: Message, nonce: str) -> str:
        now = int(time.time()) - msg.issued_ago
        person = msg.person
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": person.subject,
            "aud": msg.audience,
            "iat": now,
            "exp": now + msg.expires_in,
            "nonce": msg.nonce or nonce,
            "name": person.name,
            LTI + "message_type": msg.kind,
            LTI + "version": "1.3.0",
            LTI + "deployment_id": msg.deployment,
            LTI + "target_link_uri": f"{self.tool_url}/lti/launch",
            LTI + "roles": person.roles,
            LTI + "context": CONTEXT,
            NRPS: {
                "context_memberships_url": f"{self.url}/memberships",
                "service_versions": ["2.0"],
            },
        }
        if msg.azp is not None:
            claims["azp"] = msg.azp
        if msg.custom:
            claims[LTI + "custom"] = msg.custom
        if msg.kind == "LtiResourceLinkRequest":
            claims[LTI + "resource_link"] = {"id": msg.resource_link, "title": "Week 3: optics"}
            claims[AGS] = {
                "scope": [SCOPE_LINEITEM, SCOPE_SCORE],
                "lineitems": f"{self.url}/lineitems",
                **({"lineitem": msg.lineitem} if msg.lineitem else {}),
            }
        else:
            claims[DL + "deep_linking_settings"] = {
                "deep_link_return_url": f"{self.url}/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["window"],
                "data": "opaque-platform-data",
            }
        kid = msg.kid or self.kid
        key = msg.signing_key or self.keys[self.kid]
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        keys = []
        for kid in sorted(self.published):
            jwk = RSAAlgorithm.to_jwk(self.keys[kid].public_key(), as_dict=True)
            keys.append(jwk | {"kid": kid, "alg": "RS256", "use": "sig"})
        return web.json_response({"keys": keys})

    # -- services --------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        """Client credentials with a JWT assertion, checked against the tool's published keys."""
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        assertion = str(form.get("client_assertion", ""))
        try:
            claims = await self._tool_claims(assertion, audience=f"{self.url}/token")
        except jwt.InvalidTokenError as exc:
            return web.json_response({"error": "invalid_client", "why": str(exc)}, status=401)
        if claims["iss"] != CLIENT_ID or claims["sub"] != CLIENT_ID:
            return web.json_response({"error": "invalid_client"}, status=401)
        self.assertions.append(claims)
        token = secrets.token_urlsafe(16)
        self.tokens[token] = set(str(form.get("scope", "")).split())
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        )

    async def _tool_claims(self, token: str, audience: str) -> dict[str, Any]:
        """A JWT of the tool's, verified with the key its JWKS endpoint publishes."""
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.tool_url}/.well-known/jwks.json") as resp,
        ):
            keys = {k["kid"]: k for k in (await resp.json())["keys"]}
        kid = jwt.get_unverified_header(token)["kid"]
        key = RSAAlgorithm.from_jwk(keys[kid])
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"], audience=audience)
        return claims

    def _allowed(self, request: web.Request, scope: str) -> bool:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return scope in self.tokens.get(given, set())

    async def _lineitems(self, request: web.Request) -> web.Response:
        if not self._allowed(request, SCOPE_LINEITEM):
            return web.Response(status=401)
        link = request.query.get("resource_link_id")
        found = [i for i in self.lineitems if link is None or i["resourceLinkId"] == link]
        return web.json_response(
            found, content_type="application/vnd.ims.lis.v2.lineitemcontainer+json"
        )

    async def _new_lineitem(self, request: web.Request) -> web.Response:
        if not self._allowed(request, SCOPE_LINEITEM):
            return web.Response(status=401)
        item = await request.json()
        item["id"] = f"{self.url}/lineitems/{len(self.lineitems) + 1}"
        self.lineitems.append(item)
        return web.json_response(
            item, status=201, content_type="application/vnd.ims.lis.v2.lineitem+json"
        )

    async def _score(self, request: web.Request) -> web.Response:
        if not self._allowed(request, SCOPE_SCORE):
            return web.Response(status=401)
        if request.content_type != "application/vnd.ims.lis.v1.score+json":
            return web.Response(status=415)
        self.score_tries += 1
        if self.score_tries <= self.fail_scores:
            return web.Response(status=503, text="the gradebook is busy")
        score = await request.json()
        score["lineitem"] = request.match_info["item"]
        self.scores.append(score)
        return web.Response(status=204)

    async def _memberships(self, request: web.Request) -> web.Response:
        """The roster in two pages, the first pointing at the second."""
        if not self._allowed(request, SCOPE_ROSTER):
            return web.Response(status=401)
        members = [
            {"user_id": p.subject, "name": p.name, "roles": p.roles, "status": "Active"}
            for p in self.people
        ]
        half = len(members) // 2
        headers = {}
        if request.query.get("page") == "2":
            page = members[half:]
        else:
            page = members[:half]
            headers["Link"] = f'<{self.url}/memberships?page=2>; rel="next"'
        body = {"id": f"{self.url}/memberships", "context": CONTEXT, "members": page}
        return web.json_response(
            body,
            headers=headers,
            content_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
        )

    async def _deep_link_return(self, request: web.Request) -> web.Response:
        form = await request.post()
        claims = await self._tool_claims(str(form["JWT"]), audience=self.issuer)
        self.deep_links.append(claims)
        return web.Response(
            text="<!doctype html><title>Placed</title><p>Placed.</p>", content_type="text/html"
        )


def auto_post(action: str, fields: dict[str, str]) -> str:
    """The authorization endpoint's answer: a form the browser posts at once."""
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )
    return (
        f'<!doctype html><form id="f" method="post" action="{html.escape(action)}">{inputs}'
        '</form><script>document.getElementById("f").submit()</script>'
    )


def read_form(page: str) -> tuple[str, dict[str, str]]:
    """The action and fields of an auto-posting form, as a browser would post them."""
    action = FORM_ACTION.search(page)
    assert action is not None, page
    return html.unescape(action[1]), {k: html.unescape(v) for k, v in FORM_FIELD.findall(page)}


@dataclass(frozen=True)
class Answer:
    status: int
    location: str
    text: str


@dataclass
class Browser:
    """A browser without a page engine: it follows the login's redirects and posts the form."""

    http: aiohttp.ClientSession

    async def launch(self, platform: Platform, hint: str) -> Answer:
        """The whole launch; the tool's last answer (a redirect, or a page that refuses)."""
        first = await self.get(platform.login_url(hint))
        if first.status != 302:
            return first
        action, form = await self.authorize(first.location)
        return await self.post(action, form)

    async def get(self, url: str) -> Answer:
        async with self.http.get(url, allow_redirects=False) as resp:
            return Answer(resp.status, resp.headers.get("Location", ""), await resp.text())

    async def authorize(self, auth_url: str) -> tuple[str, dict[str, str]]:
        answer = await self.get(auth_url)
        assert answer.status == 200, answer.text
        return read_form(answer.text)

    async def post(self, action: str, form: dict[str, str]) -> Answer:
        async with self.http.post(action, data=form, allow_redirects=False) as resp:
            return Answer(resp.status, resp.headers.get("Location", ""), await resp.text())


def browser_session() -> aiohttp.ClientSession:
    # Cookies for 127.0.0.1 (aiohttp keeps none for IP addresses unless told).
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
