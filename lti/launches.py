"""Where a verified launch lands: a class (made at an instructor's first launch), a replay...

- A resource link opens its class, or what a deep link placed there. The
  class is created by the first instructor who launches it; a learner who
  comes first is told to wait for it. Everyone gets a join token of the
  role their course roles give, with the name the platform sent, and lands
  in the classroom page (the token in the URL fragment, so it never reaches
  a server log or a Referer): no second login.
- A placed replay opens the replay page with a replay token: staff of the
  course as hosts or moderators, learners as viewers once the recording is
  shared with learners.
- A deep-linking request (instructors only) opens the choice page.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any, Protocol

import msgspec

from classroom.errors import DomainError
from classroom.events import MediaMode
from classroom.roles import is_staff
from classroom.sharing import Access, permits
from lti.claims import Launch
from lti.deeplink import CHOICE_TTL_S, Choice
from lti.ephemeral import Ephemeral
from lti.links import (
    Links,
    Member,
    Placement,
    class_id_for,
    class_title,
    link_of,
    read_placement,
    user_id_for,
)
from lti.oidc import LaunchError
from lti.platforms import Platform, Tool
from signaling.auth import mint, mint_replay

CHOICE_PREFIX = "dl:"


class Classes(Protocol):
    """What launches need of the class registry."""

    async def exists(self, class_id: str) -> bool: ...

    async def create(self, title: str, media: MediaMode, class_id: str | None = None) -> str: ...


class Recordings(Protocol):
    """What launches need of the recording store."""

    def load(self, recording_id: str) -> dict[str, Any] | None: ...

    def ids(self) -> list[str]: ...


class Launcher:
    def __init__(
        self,
        tool: Tool,
        links: Links,
        classes: Classes,
        recordings: Recordings,
        choices: Ephemeral,
        secret: str,
    ) -> None:
        self.tool, self.links, self.classes = tool, links, classes
        self.recordings = recordings
        self.choices = choices
        self.secret = secret

    async def land(self, platform: Platform, launch: Launch) -> str:
        """The path (and fragment) to send the browser to."""
        if launch.message_type == "LtiDeepLinkingRequest":
            return await self._choose(platform, launch)
        salt = await self.tool.salt()
        user_id = user_id_for(salt, platform.id, launch.subject)
        placement = read_placement(salt, platform.id, launch)
        if placement is not None and placement.kind == "replay":
            return await self._replay(platform, placement.id, launch, user_id)
        class_id = await self._class(platform, launch, placement, salt)
        await self.links.remember(link_of(class_id, platform.id, launch))
        await self.links.add_member(
            class_id, user_id, Member(launch.subject, launch.name, launch.role)
        )
        token = mint(self.secret, class_id, user_id, launch.name, launch.role)
        return f"/c/{class_id}#token={token}"

    async def _class(
        self, platform: Platform, launch: Launch, placement: Placement | None, salt: bytes
    ) -> str:
        class_id = placement.id if placement else class_id_for(salt, platform.id, launch)
        if await self.classes.exists(class_id):
            return class_id
        if placement is not None:
            raise LaunchError("the class placed here no longer exists on this server", 404)
        if launch.role != "host":
            raise LaunchError(
                "This class has not been opened yet. Your instructor opens it by launching it "
                "once from the course; come back then.",
                409,
            )
        with contextlib.suppress(DomainError):  # another instructor's first launch made it
            await self.classes.create(class_title(launch), "sfu", class_id=class_id)
        return class_id

    async def _replay(
        self, platform: Platform, recording_id: str, launch: Launch, user_id: str
    ) -> str:
        meta = await asyncio.to_thread(self.recordings.load, recording_id)
        if meta is None:
            raise LaunchError("the replay placed here no longer exists on this server", 404)
        role = launch.role
        if not is_staff(role) and not permits(meta, Access("learner")):
            raise LaunchError(
                "This replay is not shared with learners yet; your instructor shares it "
                "when it is ready.",
                409,
            )
        class_id = meta.get("class_id")
        if isinstance(class_id, str) and class_id:
            await self._remember_replay(platform, recording_id, meta, class_id, launch)
            member = Member(launch.subject, launch.name, role)
            await self.links.add_member(class_id, user_id, member)
        replay_role = role if role in ("host", "moderator") else "viewer"
        token = mint_replay(self.secret, recording_id, user_id, launch.name, replay_role)
        return f"/replay/{recording_id}#token={token}"

    async def _remember_replay(
        self,
        platform: Platform,
        recording_id: str,
        meta: dict[str, Any],
        class_id: str,
        launch: Launch,
    ) -> None:
        """The replay's own link: its scores go to its line item, a column apart from the
        class's ("... (replay)"), made by the platform from the deep link or by the tool."""
        title = str(meta.get("title") or class_title(launch))
        link = link_of(class_id, platform.id, launch)
        replay_title = f"{title} (replay)"[:200]
        await self.links.remember(
            msgspec.structs.replace(link, title=replay_title, recording_id=recording_id)
        )

    async def _choose(self, platform: Platform, launch: Launch) -> str:
        if launch.role != "host":
            raise LaunchError("only the course's instructors place classes and replays", 403)
        settings = launch.deep_linking
        assert settings is not None
        salt = await self.tool.salt()
        context = launch.context
        choice = Choice(
            platform.id,
            launch.deployment_id,
            settings,
            context.id if context else None,
            (context.title or context.label) if context else None,
            user_id_for(salt, platform.id, launch.subject),
            launch.name,
        )
        if not choice.accepts_links:
            raise LaunchError("the course accepts no LTI resource link here")
        choice_id = secrets.token_urlsafe(24)
        await self.choices.put(CHOICE_PREFIX + choice_id, msgspec.json.encode(choice), CHOICE_TTL_S)
        return f"/lti/deep-link/{choice_id}"
