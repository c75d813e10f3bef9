"""The LTI tool of one node: registrations, logins, launches, deep links, scores and rosters."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import aiohttp
import msgspec

from journal import Journal
from lti import grades
from lti.deeplink import Choice, content_item, response_token
from lti.ephemeral import Ephemeral, MemoryEphemeral, RedisEphemeral
from lti.grades import Grades
from lti.jwks import PlatformKeys
from lti.launches import CHOICE_PREFIX, Classes, Launcher, Recordings
from lti.links import Links, Placement, placement_token
from lti.oidc import (
    LOGIN_TTL_S,
    LaunchError,
    Pending,
    check_browser,
    cookie_name,
    start_login,
    verify_id_token,
)
from lti.platforms import PlatformError, Tool
from lti.roster import Rosters
from lti.services import Tokens
from lti.store import open_store
from signaling.runtime import now_ms

LOGIN_PREFIX = "login:"
LAUNCH_PATH = "/lti/launch"
LOGIN_PATH = "/lti/login"
JWKS_PATH = "/.well-known/jwks.json"


@dataclass(frozen=True)
class LtiConfig:
    data_dir: Path
    base_url: str
    secret: str
    redis_url: str = ""
    node_url: str = ""
    lease_ttl_ms: int = 10_000
    retry_delays_s: tuple[float, ...] = ()


class ClassOption(msgspec.Struct):
    id: str
    title: str


class ReplayOption(msgspec.Struct):
    id: str
    title: str
    class_id: str
    visibility: str


class ChoiceOptions(msgspec.Struct):
    """What the deep-linking page offers."""

    course: str | None
    name: str
    classes: list[ClassOption]
    replays: list[ReplayOption]


class Placing(msgspec.Struct, forbid_unknown_fields=True):
    """What the instructor chose on the deep-linking page."""

    kind: Literal["new_class", "class", "replay"]
    id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class Placed(msgspec.Struct):
    """Where the page posts the signed response: a form with one field, `JWT`."""

    return_url: str
    jwt: str


class LtiTool:
    def __init__(
        self, config: LtiConfig, class_journal: Journal, classes: Classes, recordings: Recordings
    ) -> None:
        self.config = config
        self.store = open_store(config.data_dir, config.redis_url)
        self.tool = Tool(self.store)
        self.links = Links(self.store)
        self.pending: Ephemeral = (
            RedisEphemeral.from_url(config.redis_url) if config.redis_url else MemoryEphemeral()
        )
        self._http: aiohttp.ClientSession | None = None
        self.keys = PlatformKeys(self.http)
        self.tokens = Tokens(self.tool, self.http)
        self.classes = classes
        self.recordings = recordings
        self.grades = Grades(
            self.tool,
            self.links,
            self.tokens,
            class_journal,
            grades.outbox_journal(config.data_dir, config.redis_url),
            grades.lease(config.redis_url, config.node_url, config.lease_ttl_ms),
            config.retry_delays_s,
        )
        self.rosters = Rosters(self.tool, self.links, self.tokens, self.http)
        self.launcher = Launcher(
            self.tool, self.links, classes, recordings, self.pending, config.secret
        )

    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            # No proxies from the environment: requests go to the registered URLs.
            self._http = aiohttp.ClientSession(trust_env=False)
        return self._http

    @property
    def launch_url(self) -> str:
        return self.config.base_url + LAUNCH_PATH

    async def start(self) -> None:
        await self.tool.signing_key(now_ms())
        await self.grades.start()

    async def close(self) -> None:
        await self.grades.close()
        await self.pending.close()
        await self.store.close()
        if self._http is not None:
            await self._http.close()

    # -- login and launch --------------------------------------------------

    async def login(
        self, issuer: str, client_id: str | None, login_hint: str, message_hint: str | None
    ) -> tuple[str, str, str]:
        """A login under way: (cookie name, cookie value, the platform's authorization URL)."""
        try:
            platform = await self.tool.find(issuer, client_id)
        except PlatformError as exc:
            raise LaunchError(str(exc), 400) from exc
        state, pending, url = start_login(platform, self.launch_url, login_hint, message_hint)
        await self.pending.put(LOGIN_PREFIX + state, msgspec.json.encode(pending), LOGIN_TTL_S)
        return cookie_name(state), pending.browser, url

    async def launch(self, id_token: str, state: str, cookies: dict[str, str]) -> str:
        """Check a launch (see lti/oidc.py); the path to send the browser to."""
        if not state or len(state) > 200:
            raise LaunchError("the launch has no state")
        unknown = LaunchError(
            "this launch's login is unknown, used or expired: launch again from the course", 401
        )
        raw = await self.pending.get(LOGIN_PREFIX + state)
        if raw is None:
            raise unknown
        pending = msgspec.json.decode(raw, type=Pending)
        # The browser first: another browser's post of a stolen state cannot use the login up.
        check_browser(pending, cookies.get(cookie_name(state)))
        if await self.pending.take(LOGIN_PREFIX + state) is None:
            raise unknown  # taken a moment ago: each login is used once
        platform = await self.tool.platform(pending.platform_id)
        if platform is None:
            raise LaunchError("this platform is no longer registered", 403)
        launch = await verify_id_token(id_token, pending, platform, self.keys)
        return await self.launcher.land(platform, launch)

    # -- deep linking ------------------------------------------------------

    async def choice(self, choice_id: str) -> Choice | None:
        raw = await self.pending.get(CHOICE_PREFIX + choice_id)
        return None if raw is None else msgspec.json.decode(raw, type=Choice)

    async def options(self, choice: Choice) -> ChoiceOptions:
        classes = await self._course_classes(choice)
        metas = await asyncio.to_thread(self._published, set(classes))
        replays = [
            ReplayOption(
                rid,
                str(meta.get("title") or classes[meta["class_id"]]),
                meta["class_id"],
                str(meta.get("visibility", "private")),
            )
            for rid, meta in metas
        ]
        return ChoiceOptions(
            choice.context_title,
            choice.name,
            [ClassOption(cid, title) for cid, title in classes.items()],
            replays,
        )

    async def _course_classes(self, choice: Choice) -> dict[str, str]:
        if choice.context_id is None:
            return {}
        return await self.links.course_classes(choice.platform_id, choice.context_id)

    def _published(self, class_ids: set[str]) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for rid in self.recordings.ids():
            meta = self.recordings.load(rid)
            if meta and meta.get("state") == "published" and meta.get("class_id") in class_ids:
                found.append((rid, meta))
        return found

    async def place(self, choice_id: str, placing: Placing) -> Placed:
        raw = await self.pending.take(CHOICE_PREFIX + choice_id)
        if raw is None:
            raise LaunchError("this choice has expired or was made: place it again", 404)
        choice = msgspec.json.decode(raw, type=Choice)
        platform = await self.tool.platform(choice.platform_id)
        if platform is None:
            raise LaunchError("this platform is no longer registered", 403)
        target, title = await self._target(choice, placing)
        salt = await self.tool.salt()
        token = placement_token(salt, platform.id, target)
        item = content_item(target, title, self.launch_url, token, with_line_item=True)
        key = await self.tool.signing_key(now_ms())
        signed = response_token(platform, choice, [item], key, int(time.time()))
        return Placed(choice.settings.deep_link_return_url, signed)

    async def _target(self, choice: Choice, placing: Placing) -> tuple[Placement, str]:
        classes = await self._course_classes(choice)
        if placing.kind == "new_class":
            title = placing.title or "Class"
            class_id = await self.classes.create(title, "sfu")
            if choice.context_id is not None:
                await self.links.add_to_course(
                    choice.platform_id, choice.context_id, class_id, title
                )
            return Placement("class", class_id), title
        if placing.kind == "class" and placing.id in classes:
            return Placement("class", placing.id), classes[placing.id]
        if placing.kind == "replay" and placing.id is not None:
            for rid, meta in await asyncio.to_thread(self._published, set(classes)):
                if rid == placing.id:
                    return Placement("replay", rid), str(meta.get("title") or "Replay")
        raise LaunchError("that is not a class or published replay of this course", 404)
