"""The course's roster (Names and Role Provisioning Services) beside a class's report.

For a class that came from a course, the report gains `roster`: every
active member of the course with the user id they have (or would have) in
the class, their name and role, and whether they came; `never_came` lists
those who did not. The roster is fetched with the tool's token when a
report asks for it, and kept `FRESH_S` per class. A platform that cannot be
reached leaves the report whole, with the roster's `error`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import aiohttp
import msgspec

from classroom.reports import ClassReport
from classroom.roles import Role
from lti.claims import SCOPE_ROSTER, classroom_role, display_name
from lti.links import Links, user_id_for
from lti.platforms import Platform, Tool
from lti.services import RosterEntry, ServiceError, Tokens, fetch_roster
from lti.store import StoreError

FRESH_S = 300.0
KEPT = 64
"""Rosters kept in memory at most."""


class RosterMember(msgspec.Struct):
    user_id: str
    lms_user_id: str
    name: str
    role: Role
    came: bool


class Roster(msgspec.Struct):
    state: Literal["ok", "unavailable"]
    fetched_at: int | None
    """When the platform was asked (epoch ms)."""
    members: list[RosterMember]
    never_came: list[str]
    """User ids of the members who never joined the class."""
    error: str | None = None


class RosteredReport(ClassReport, kw_only=True):
    """A class report, with the course's roster when the class came from one."""

    roster: Roster | None = None


def with_roster(report: ClassReport, roster: Roster | None) -> RosteredReport:
    return RosteredReport(**msgspec.structs.asdict(report), roster=roster)


def roster_of(
    report: ClassReport, entries: list[RosterEntry], salt: bytes, platform_id: str, at: int
) -> Roster:
    came = {a.user_id for a in report.attendance}
    members = []
    for entry in entries:
        if entry.status != "Active":
            continue
        user_id = user_id_for(salt, platform_id, entry.user_id)
        names = {
            "name": entry.name,
            "given_name": entry.given_name,
            "family_name": entry.family_name,
        }
        role = classroom_role(entry.roles)
        members.append(
            RosterMember(user_id, entry.user_id, display_name(names), role, user_id in came)
        )
    members.sort(key=lambda m: (m.name.casefold(), m.user_id))
    return Roster("ok", at, members, [m.user_id for m in members if not m.came])


class Rosters:
    def __init__(
        self,
        tool: Tool,
        links: Links,
        tokens: Tokens,
        http: Callable[[], aiohttp.ClientSession],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tool, self.links, self.tokens, self.http = tool, links, tokens, http
        self.clock = clock
        self._kept: dict[str, tuple[float, list[RosterEntry]]] = {}

    async def for_report(self, class_id: str, report: ClassReport) -> Roster | None:
        """The class's roster, None when no course's roster is known for it."""
        try:
            link = await self.links.link(class_id)
            if link is None or link.memberships_url is None:
                return None
            platform = await self.tool.platform(link.platform_id)
            if platform is None:
                return Roster("unavailable", None, [], [], "the platform is no longer registered")
            entries, at = await self._entries(class_id, platform, link.memberships_url)
            salt = await self.tool.salt()
        except (ServiceError, StoreError) as exc:
            return Roster("unavailable", None, [], [], str(exc)[:300])
        return roster_of(report, entries, salt, link.platform_id, int(at * 1000))

    async def _entries(
        self, class_id: str, platform: Platform, url: str
    ) -> tuple[list[RosterEntry], float]:
        now = self.clock()
        kept = self._kept.get(class_id)
        if kept is not None and now - kept[0] < FRESH_S:
            return kept[1], kept[0]
        token = await self.tokens.token(platform, [SCOPE_ROSTER])
        try:
            entries = await fetch_roster(self.http(), token, url)
        except ServiceError as exc:
            if exc.status == 401:
                self.tokens.forget(platform)
            raise
        self._kept.pop(class_id, None)
        self._kept[class_id] = (now, entries)
        while len(self._kept) > KEPT:
            del self._kept[next(iter(self._kept))]
        return entries, now
