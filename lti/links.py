"""Which class a resource link opens, who the launching people are, and what was placed where.

- A resource link of a course (on one platform and deployment) opens the
  class whose id is derived from the three with the installation's salt:
  the same class at every launch, on every node, and the first instructor's
  launch creates it (the journal refuses a second creation, so two first
  launches at once make one class).
- A link placed by deep linking carries a signed `placement` in its custom
  parameters (a class or a replay, and the platform it was made for): the
  platform echoes it in every launch, and the signature keeps another
  platform, or a hand-edited parameter, from naming someone else's class.
- People get user ids derived from the platform and their LMS id: the same
  person is the same user in every class, replay and report of the course.
- `Link` records, per class, where its course's services are (AGS line
  items, NRPS roster), from the latest launch; a placed replay has a link
  of its own, per recording, whose line item is the replay's gradebook
  column; `Member` records map user ids back to LMS ids for the scores.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

import jwt
import msgspec

from classroom.roles import Role
from lti.claims import Launch
from lti.store import Store

LINKS = "links"
REPLAY_LINKS = "replay-links"
PLACEMENT_CLAIM = "classroom_placement"
"""The custom parameter a deep-linked resource link carries."""

TargetKind = Literal["class", "replay"]


class Link(msgspec.Struct):
    class_id: str
    platform_id: str
    deployment_id: str
    resource_link_id: str
    title: str
    context_id: str | None = None
    context_title: str | None = None
    lineitem: str | None = None
    """The line item scores go to (from the launch, or made by the tool)."""
    lineitems: str | None = None
    scopes: list[str] = []
    memberships_url: str | None = None
    recording_id: str | None = None
    """A placed replay's link (its scores go to a column of their own)."""

    @property
    def key(self) -> tuple[str, str]:
        """Where it is kept: by class, or by recording for a replay's."""
        if self.recording_id is not None:
            return REPLAY_LINKS, self.recording_id
        return LINKS, self.class_id


class Member(msgspec.Struct):
    subject: str
    """The person's id on the platform (the id_token's `sub`)."""
    name: str
    role: Role


class Placement(msgspec.Struct, frozen=True):
    kind: TargetKind
    id: str


def _digest(salt: bytes, *parts: str) -> str:
    return hmac.new(salt, "\n".join(parts).encode(), hashlib.sha256).hexdigest()


def class_id_for(salt: bytes, platform_id: str, launch: Launch) -> str:
    assert launch.resource_link is not None
    digest = _digest(salt, "class", platform_id, launch.deployment_id, launch.resource_link.id)
    return "lti-" + digest[:20]


def user_id_for(salt: bytes, platform_id: str, subject: str) -> str:
    return "lti-" + _digest(salt, "user", platform_id, subject)[:16]


def _placement_key(salt: bytes) -> bytes:
    return hmac.new(salt, b"placements", hashlib.sha256).digest()


def placement_token(salt: bytes, platform_id: str, target: Placement) -> str:
    claims = {"k": target.kind, "id": target.id, "plt": platform_id}
    return jwt.encode(claims, _placement_key(salt), algorithm="HS256")


def read_placement(salt: bytes, platform_id: str, launch: Launch) -> Placement | None:
    """The launch's placement, if it carries one signed by us for this platform."""
    token = launch.custom.get(PLACEMENT_CLAIM)
    if not isinstance(token, str) or len(token) > 2048:
        return None
    try:
        claims = jwt.decode(token, _placement_key(salt), algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return None
    if claims.get("plt") != platform_id or claims.get("k") not in ("class", "replay"):
        return None
    return Placement(claims["k"], str(claims["id"]))


def link_of(class_id: str, platform_id: str, launch: Launch) -> Link:
    assert launch.resource_link is not None
    context = launch.context
    ags, nrps = launch.ags, launch.nrps
    return Link(
        class_id=class_id,
        platform_id=platform_id,
        deployment_id=launch.deployment_id,
        resource_link_id=launch.resource_link.id,
        title=class_title(launch),
        context_id=context.id if context else None,
        context_title=(context.title or context.label) if context else None,
        lineitem=ags.lineitem if ags else None,
        lineitems=ags.lineitems if ags else None,
        scopes=list(ags.scope) if ags else [],
        memberships_url=nrps.context_memberships_url if nrps else None,
    )


def class_title(launch: Launch) -> str:
    link, context = launch.resource_link, launch.context
    for title in (link.title if link else None, context.title if context else None):
        if title and title.strip():
            return " ".join(title.split())[:200]
    return "Class"


def context_space(platform_id: str, context_id: str) -> str:
    return f"contexts/{platform_id}-{hashlib.sha256(context_id.encode()).hexdigest()[:16]}"


class Links:
    """Links, members and each course's classes, in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def link(self, class_id: str) -> Link | None:
        return await self.read(LINKS, class_id)

    async def replay_link(self, recording_id: str) -> Link | None:
        return await self.read(REPLAY_LINKS, recording_id)

    async def read(self, space: str, key: str) -> Link | None:
        raw = await self.store.get(space, key)
        return None if raw is None else msgspec.json.decode(raw, type=Link)

    async def remember(self, link: Link) -> None:
        """Keep the link; a line item the tool made is kept when the launch has none."""
        earlier = await self.read(*link.key)
        if earlier is not None and link.lineitem is None and earlier.lineitems == link.lineitems:
            link = msgspec.structs.replace(link, lineitem=earlier.lineitem)
        if earlier != link:
            await self.store.put(*link.key, msgspec.json.encode(link))
        if link.context_id is not None and link.recording_id is None:
            await self.add_to_course(link.platform_id, link.context_id, link.class_id, link.title)

    async def set_lineitem(self, link: Link, url: str) -> None:
        kept = await self.read(*link.key)
        if kept is not None and kept.lineitem != url:
            kept = msgspec.structs.replace(kept, lineitem=url)
            await self.store.put(*kept.key, msgspec.json.encode(kept))

    async def add_member(self, class_id: str, user_id: str, member: Member) -> None:
        space = f"members/{class_id}"
        raw = msgspec.json.encode(member)
        if await self.store.get(space, user_id) != raw:
            await self.store.put(space, user_id, raw)

    async def members(self, class_id: str) -> dict[str, Member]:
        found = await self.store.all(f"members/{class_id}")
        return {uid: msgspec.json.decode(raw, type=Member) for uid, raw in found.items()}

    async def add_to_course(
        self, platform_id: str, context_id: str, class_id: str, title: str
    ) -> None:
        space = context_space(platform_id, context_id)
        if await self.store.get(space, class_id) != title.encode():
            await self.store.put(space, class_id, title.encode())

    async def course_classes(self, platform_id: str, context_id: str) -> dict[str, str]:
        found = await self.store.all(context_space(platform_id, context_id))
        return {cid: raw.decode() for cid, raw in found.items()}
